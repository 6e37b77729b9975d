"""examples/paint: image outputs and image URL inputs with ``openfal.toolkit`` (see the README,
"Files in apps")."""

from PIL import Image as PILImage
from PIL import ImageOps
from pydantic import BaseModel

import openfal
from openfal.toolkit import Image, ImageSizeInput, ImageUrl, load_image, resolve_image_size


class PaintInput(BaseModel):
    image_size: ImageSizeInput = "square"
    color: tuple[int, int, int] = (255, 128, 0)
    sync_mode: bool = False  # True: the image comes back inline as a data: URI


class InvertInput(BaseModel):
    image_url: ImageUrl  # http(s) or data:; private addresses are refused with a 422


class Output(BaseModel):
    image: Image


class Paint(openfal.App, name="examples/paint"):
    @openfal.endpoint("/")
    def paint(self, input: PaintInput) -> Output:
        picture = PILImage.new("RGB", resolve_image_size(input.image_size), input.color)
        repository = "in_memory" if input.sync_mode else "default"
        return Output(image=Image.from_pil(picture, repository=repository))

    @openfal.endpoint("/invert")
    def invert(self, input: InvertInput) -> Output:
        picture = load_image(input.image_url)  # own files are read from storage, not HTTP
        return Output(image=Image.from_pil(ImageOps.invert(picture), format="jpeg"))
