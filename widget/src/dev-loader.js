// Served as /embed.js when widget/dist has not been built (`pipenv run dev` with no Node): it
// loads the unbundled ES modules. A classic script may import() a module, and
// document.currentScript is only set while this script runs, so it is read first.
(function () {
  var script = document.currentScript;
  import(new URL("widget/main.js", script.src).href).then(function (widget) {
    widget.start(script);
  });
})();
