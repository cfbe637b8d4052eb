"""A row's images: read from bytes, local paths (absolute or relative to the input file) and s3://,
checked to decode and to be within the limits; every failure names images[i] and the path."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from judgelm_ray.inputs.fields import RowError
from judgelm_ray.inputs.images import ImageError, ImageLimits, load_images


def png(size: tuple[int, int] = (12, 8), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "red.png").write_bytes(png())
    (tmp_path / "green.jpg").write_bytes(jpeg())
    return tmp_path


def test_bytes_are_kept_as_given():
    data = [png(), jpeg()]
    assert load_images([{"path": None, "bytes": data[0]}, {"path": "orig.jpg", "bytes": data[1]}]) == data


def test_paths_absolute_and_relative_to_the_input_file_folder(folder):
    images = [{"path": "pics/red.png", "bytes": None}, {"path": str(folder / "green.jpg"), "bytes": None}]
    assert load_images(images, base=str(folder)) == [png(), jpeg()]


def test_bytes_win_over_the_path_they_came_from(folder):
    # The Hugging Face datasets convention: with bytes, the path is only the original file's name.
    assert load_images([{"path": "gone.png", "bytes": jpeg()}], base=str(folder)) == [jpeg()]


def error(images: list[dict], base: str | None = None, limits: ImageLimits = ImageLimits()) -> str:
    with pytest.raises(ImageError) as raised:
        load_images(images, base=base, limits=limits)
    assert isinstance(raised.value, RowError)  # the prepare stage turns it into a quarantine reason
    return str(raised.value)


def test_missing_file_names_the_image_and_its_path(folder):
    message = error([{"path": "pics/red.png", "bytes": None}, {"path": "pics/none.png", "bytes": None}], str(folder))
    assert message.startswith("field 'images'[1]: pics/none.png (at ")
    assert message.endswith("no such file")


def test_a_relative_path_needs_a_folder():
    assert error([{"path": "red.png", "bytes": None}]) == (
        "field 'images'[0]: red.png: a relative path, but no folder to resolve it against")


def test_a_folder_is_not_an_image(folder):
    assert error([{"path": "pics", "bytes": None}], str(folder)).endswith("not a file")


def test_neither_path_nor_bytes():
    assert error([{"path": None, "bytes": None}]) == "field 'images'[0]: (none): neither a path nor bytes"


def test_truncated_png_is_refused(folder):
    whole = png((64, 64))
    (folder / "cut.png").write_bytes(whole[: len(whole) // 2])
    message = error([{"path": "cut.png", "bytes": None}], str(folder))
    assert message.startswith("field 'images'[0]: cut.png") and "not a readable" in message


def test_truncated_jpeg_bytes_are_refused():
    # verify() does not notice a JPEG cut short; decoding every pixel does.
    out = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(out, "JPEG")
    assert "not a readable" in error([{"path": None, "bytes": out.getvalue()[:-200]}])


def test_text_is_not_an_image():
    message = error([{"path": "notes.png", "bytes": b"hello, not a picture"}])
    assert message.startswith("field 'images'[0]: bytes (notes.png): not a readable PNG/JPEG")


def test_formats_that_run_other_programs_are_refused():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    assert "not a readable" in error([{"path": None, "bytes": eps}])


def test_oversized_file_is_refused_before_reading(folder):
    limits = ImageLimits(max_bytes=10)
    size = (folder / "pics" / "red.png").stat().st_size
    assert error([{"path": "pics/red.png", "bytes": None}], str(folder), limits).endswith(
        f"{size} bytes is over the limit of 10 bytes")
    assert error([{"path": None, "bytes": png()}], limits=limits) == (
        f"field 'images'[0]: bytes: {size} bytes is over the limit of 10 bytes")


def test_too_many_pixels_is_refused():
    limits = ImageLimits(max_pixels=50)
    assert error([{"path": None, "bytes": png((10, 6))}], limits=limits) == (
        "field 'images'[0]: bytes: 10x6 pixels is over the limit of 5e-05 megapixels")
    assert load_images([{"path": None, "bytes": png((5, 10))}], limits=limits)  # exactly at the limit


@pytest.mark.integration
def test_s3_paths_absolute_and_relative(s3):
    from support.s3_server import put_s3_object

    put_s3_object("s3://judgelm/images-test/pics/red.png", png())
    images = [{"path": "pics/red.png", "bytes": None}, {"path": "s3://judgelm/images-test/pics/red.png", "bytes": None}]
    assert load_images(images, base="s3://judgelm/images-test") == [png(), png()]
    message = error([{"path": "pics/none.png", "bytes": None}], "s3://judgelm/images-test")
    assert message == "field 'images'[0]: pics/none.png (at s3://judgelm/images-test/pics/none.png): no such file"
