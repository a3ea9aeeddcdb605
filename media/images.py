"""Uploaded images made safe to store and serve: recognised by decoding, checked, re-encoded.

What is stored is never the uploaded file but a new one that Pillow wrote from the decoded
pixels, so nothing of the upload survives but the picture: no EXIF, GPS, comments or text
chunks, and no payload hidden in the file. (The ICC colour profile is kept when the colours are
unchanged: it is colour data, not data about the sender, and without it phone photos look dull.
It is kept only as lcms rewrites it and only when small; a larger one is applied to the pixels,
which become sRGB, and dropped: a profile cannot carry a hidden file either.)

The checks run cheapest first: the format's own framing (a file must end where its format
ends, so nothing can be appended to it), the frame count and the size in the header
(decompression bombs, and animations of countless tiny frames, are refused before any pixel is
decoded), then decoding everything, then the metadata for markup. What is stored is never
larger than MAX_IMAGE_BYTES either.
"""

import hashlib
import io
import threading
from dataclasses import dataclass

from PIL import Image, ImageCms, ImageOps

from core.exceptions import InvalidImage

# Pillow's format name -> (content type, file extension).
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
# Stills are stored at most this many pixels on their longer side, as comment services do
# (Remark42 resizes too): a phone photo shrinks to a few hundred KB, and a large JPEG is
# decoded at a reduced scale (Pillow's draft mode), which keeps a worker's memory small.
MAX_SIDE = 2048
JPEG_QUALITY = 85
ORIENTATION = 0x0112  # the EXIF tag
# Markup or archives hidden in metadata make a file mean something else to another reader: a
# polyglot. (Searched in metadata only: compressed pixels are random bytes that would sometimes
# contain short strings by chance.)
FOREIGN_SIGNATURES = (
    b"<script",
    b"<html",
    b"<svg",
    b"<?php",
    b"<!doctype",
    b"<iframe",
    b"<body",
    b"%pdf-",
    b"pk\x03\x04",
)
# A colour profile is a few hundred bytes (Display P3, Adobe RGB) to a few KB (sRGB IEC61966-2.1).
MAX_ICC_BYTES = 8 * 1024
# Metadata that describes how to show the picture, and is kept; everything else is dropped.
KEPT_INFO = ("transparency", "duration", "loop", "background")
# The limit is the MAX_IMAGE_PIXELS setting, checked before decoding (_size_problem); Pillow's
# own check would only warn on stderr below twice its default, and could not be configured.
Image.MAX_IMAGE_PIXELS = None
# One decode at a time per process: a worker's memory then holds at most one decoded picture.
_decoding = threading.Lock()


@dataclass(frozen=True)
class Limits:
    pixels: int  # MAX_IMAGE_PIXELS: width x height x frames
    frames: int  # MAX_IMAGE_FRAMES
    stored_bytes: int  # MAX_IMAGE_BYTES, for what is stored as for what is sent


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def key(self) -> str:
        """Named by content: the same picture posted twice is one object."""
        extension = next(ext for content_type, ext in FORMATS.values() if content_type == self.content_type)
        return f"{hashlib.sha256(self.data).hexdigest()}.{extension}"

    def describe(self) -> dict:
        """How a comment lists it (comments.images)."""
        return {
            "key": self.key,
            "content_type": self.content_type,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
        }


def process(data: bytes, part: str, limits: Limits) -> ProcessedImage:
    """The image re-encoded, or InvalidImage naming the part and what is wrong with it."""
    with _decoding:
        try:
            image = Image.open(io.BytesIO(data), formats=tuple(FORMATS))
        except Exception:  # Pillow raises many kinds for files it cannot read
            raise InvalidImage(part, "is not a JPEG, PNG, WebP or GIF image") from None
        problem = _framing_problem(image.format, data) or _size_problem(image, data, limits)
        if problem:
            raise InvalidImage(part, problem)
        try:
            processed = _reencode(image, part)
        except InvalidImage:
            raise
        except Exception:  # truncated or corrupt data, found while decoding
            raise InvalidImage(part, "is damaged or incomplete") from None
    if len(processed.data) > limits.stored_bytes:
        raise InvalidImage(part, f"would be larger than {limits.stored_bytes:,} bytes once re-encoded")
    return processed


def _framing_problem(image_format: str, data: bytes) -> str | None:
    """Whether the file ends exactly where its format says it does (nothing appended)."""
    if image_format == "JPEG":
        # Multi-picture JPEGs (phones' depth maps) are further JPEGs, ending the same way;
        # some writers pad with zeros.
        complete = data.rstrip(b"\0").endswith(b"\xff\xd9")
    elif image_format == "PNG":
        complete = data.endswith(b"IEND\xaeB`\x82")
    elif image_format == "GIF":
        complete = data.endswith(b";")
    else:  # WebP: a RIFF container states its own length
        complete = int.from_bytes(data[4:8], "little") + 8 == len(data)
    return None if complete else "has data after the end of the image, or is incomplete"


def _size_problem(image: Image.Image, data: bytes, limits: Limits) -> str | None:
    """From the headers alone: the frames, and the pixels of all frames together."""
    frames = _gif_frames(data, limits.frames) if image.format == "GIF" else getattr(image, "n_frames", 1)
    if frames > limits.frames:
        return f"has more than {limits.frames} frames"
    width, height = image.size
    if width * height * frames > limits.pixels:
        return f"has more than {limits.pixels:,} pixels in all its frames"
    return None


def _gif_frames(data: bytes, enough: int) -> int:
    """A GIF's frames, counted by walking its blocks without decoding any (Pillow's n_frames
    reads the whole file); stops once past `enough`."""
    flags = data[10]
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)  # after the global colour table
    frames = 0
    while position < len(data) and frames <= enough:
        block = data[position]
        if block == 0x21:  # an extension: its label, then data sub-blocks
            position = _after_sub_blocks(data, position + 2)
        elif block == 0x2C:  # an image: its descriptor, a local colour table, LZW data sub-blocks
            frames += 1
            local = data[position + 9] if position + 9 < len(data) else 0
            position += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            position = _after_sub_blocks(data, position)
        else:  # the trailer, or damage that decoding will report
            break
    return frames


def _after_sub_blocks(data: bytes, position: int) -> int:
    while position < len(data):
        size = data[position]
        position += 1 + size
        if size == 0:
            break
    return position


def _reencode(image: Image.Image, part: str) -> ProcessedImage:
    image_format = image.format
    content_type, _ = FORMATS[image_format]
    animated = getattr(image, "n_frames", 1) > 1
    if not animated:
        image.draft(None, (MAX_SIDE, MAX_SIDE))  # JPEG only: decode at 1/2, 1/4... when large
    image.load()
    _check_metadata(image, part)
    kept = {key: image.info[key] for key in KEPT_INFO if key in image.info}
    options = {}
    if animated:
        options = dict(save_all=True, **kept)
    else:
        icc = image.info.get("icc_profile")
        if image.getexif().get(ORIENTATION, 1) != 1:
            image = ImageOps.exif_transpose(image)  # turn the pixels as the EXIF orientation said
        image, icc = _colour_profile(image, icc)
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        if image_format == "JPEG" and image.mode not in ("RGB", "L"):
            image, icc = image.convert("RGB"), None  # CMYK or YCCK: the profile no longer fits
        options = {**kept, **({"icc_profile": icc} if icc else {})}
        if image_format in ("JPEG", "WEBP"):
            options["quality"] = JPEG_QUALITY
    image.info = {}  # encoders fall back on info (GIF writes its comment from it)
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return ProcessedImage(out.getvalue(), content_type, image.width, image.height)


def _colour_profile(image: Image.Image, icc: bytes | None) -> tuple[Image.Image, bytes | None]:
    """The picture and the profile to store with it: a small well-formed profile as lcms writes
    it anew (nothing but its tags), none for a malformed one; a large one is applied to the
    pixels (now sRGB) and dropped, since it could carry anything."""
    if not icc:
        return image, None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        rewritten = profile.tobytes()
    except Exception:  # lcms refuses it: not a profile
        return image, None
    if len(rewritten) <= MAX_ICC_BYTES:
        return image, rewritten
    if image.mode not in ("RGB", "RGBA", "L"):
        return image, None
    try:
        converted = ImageCms.profileToProfile(image, profile, ImageCms.createProfile("sRGB"), outputMode=image.mode)
    except Exception:  # a profile lcms can read but not apply
        return image, None
    return converted or image, None


def _check_metadata(image: Image.Image, part: str) -> None:
    chunks = [value for value in image.info.values() if isinstance(value, bytes | str)]
    chunks += [segment for _, segment in getattr(image, "applist", [])]  # JPEG APPn segments
    for chunk in chunks:
        lowered = (chunk.encode("utf-8", "replace") if isinstance(chunk, str) else chunk).lower()
        if any(signature in lowered for signature in FOREIGN_SIGNATURES):
            raise InvalidImage(part, "carries markup or another file in its metadata")
