// The bundle's entry point (esbuild): start from the <script> element that loaded the bundle.
// document.currentScript is only set while this script first runs, so it is read here, at once.
import { start } from "./main.js";

start(document.currentScript);
