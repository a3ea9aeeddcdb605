"""Real image files made on the spot with Pillow, and hostile ones that only pretend to be images."""

import io

from PIL import Image, PngImagePlugin

ORIENTATION = 0x0112
MAKE = 0x010F
GPS_IFD = 0x8825


def encode(image: Image.Image, image_format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def still(image_format: str, size=(120, 80), colour=(200, 40, 40)) -> bytes:
    mode = "RGBA" if image_format == "PNG" else "RGB"
    return encode(Image.new(mode, size, colour), image_format)


def photo_with_gps(size=(120, 80)) -> bytes:
    """A JPEG whose EXIF says: rotate 90 degrees clockwise to show it, taken by a Canon at a place."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[MAKE] = "Canon"
    exif[GPS_IFD] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    return encode(Image.new("RGB", size, (30, 120, 200)), "JPEG", exif=exif.tobytes())


def large_photo(size=(3000, 2000)) -> bytes:
    """A noisy photo-like JPEG (noise does not compress: a realistic size for its pixels)."""
    return encode(Image.effect_noise(size, 60).convert("RGB"), "JPEG", quality=92)


def animated_gif(frames: int = 3) -> bytes:
    images = [Image.new("RGB", (40, 30), (i * 80, 20, 200 - i * 60)) for i in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=120, loop=0)


def png_with_text(text: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return encode(Image.new("RGB", (30, 30), (0, 90, 0)), "PNG", pnginfo=info)


def bomb() -> bytes:
    """A small PNG that would decode to 100 megapixels."""
    return encode(Image.new("1", (10_000, 10_000)), "PNG")


HOSTILE = {
    "truncated JPEG": lambda: still("JPEG")[:-200],
    "PDF named .jpg": lambda: b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
    "HTML": lambda: b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>",
    "SVG": lambda: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>',
    "JPEG with HTML appended": lambda: still("JPEG") + b"<html><script>alert(1)</script></html>",
    "GIF with a zip appended (GIFAR)": lambda: still("GIF") + b"PK\x03\x04" + b"\0" * 26 + b"payload",
    "PNG with a script in a text chunk": lambda: png_with_text("<script>alert(1)</script>"),
    "JPEG with HTML in its comment": lambda: encode(Image.new("RGB", (20, 20)), "JPEG", comment=b"<html><body>hi"),
    "decompression bomb": bomb,
}


def gif_of_tiny_frames(frames: int) -> bytes:
    """An animated GIF of `frames` one-pixel frames, written block by block (Pillow would take
    minutes to write a big one): about 23 bytes a frame, so 225,000 frames fit in 5 MB."""
    header = b"GIF89a" + (1).to_bytes(2, "little") * 2 + bytes([0x80, 0, 0]) + b"\0\0\0\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0"

    def frame(index: int) -> bytes:  # black and white in turn, so that no two frames merge
        return (
            b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # graphic control: 10 ms per frame
            + b"\x2c\0\0\0\0\x01\0\x01\0\0"  # image descriptor: 1 x 1 at 0,0
            + (b"\x02\x02\x44\x01\x00", b"\x02\x02\x4c\x01\x00")[index]  # LZW: clear, pixel 0 or 1, end
        )

    pair = frame(0) + frame(1)
    return header + loop + pair * (frames // 2) + frame(0) * (frames % 2) + b";"


def srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo_with_profile(profile: bytes) -> bytes:
    return encode(Image.new("RGB", (40, 30), (10, 200, 90)), "JPEG", icc_profile=profile)


def photo_with_big_profile(extra: int = 1024 * 1024) -> bytes:
    """A JPEG whose ICC profile is a real sRGB profile with `extra` random bytes inside a
    private tag: well-formed to lcms, and a place to hide a file."""
    return photo_with_profile(_with_private_tag(srgb_profile(), extra))


def _with_private_tag(profile: bytes, extra: int) -> bytes:
    """The profile with one more tag ('zzzz', private) holding `extra` random bytes. Drawn from a
    fixed seed: a megabyte of fresh random bytes holds "PK\\x03\\x04" (a ZIP file's signature, which
    the service refuses in metadata) about once in 500 draws, and the test would flake."""
    import random
    import struct

    count = struct.unpack(">I", profile[128:132])[0]
    table_end = 132 + 12 * count
    shift = 12  # every existing tag's data moves down by the new table entry
    entries = [struct.unpack(">4sII", profile[132 + 12 * n : 144 + 12 * n]) for n in range(count)]
    data = profile[table_end:]
    payload = b"zzzz\0\0\0\0" + random.Random(extra).randbytes(extra)
    new_offset = table_end + shift + len(data)
    table = b"".join(struct.pack(">4sII", sig, offset + shift, size) for sig, offset, size in entries)
    table += struct.pack(">4sII", b"zzzz", new_offset, len(payload))
    body = struct.pack(">I", count + 1) + table + data + payload
    header = bytearray(profile[:128])
    header[0:4] = struct.pack(">I", 128 + len(body))
    return bytes(header) + body
