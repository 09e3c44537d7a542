"""`POST /classify/{model}`: an image upload for each image model (cat-dog by name).

A thin adapter over the one inference path: the upload is read (capped) and its header
checked on the event loop; decoding happens in the model's worker thread, like every
other piece of inference. Its answer is the same typed response as the model's JSON
predict route.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

from fastapi import APIRouter, File, Response, UploadFile
from pydantic import BaseModel

from service.deps import InferenceDep
from service.logging import model_var
from service.routes.predict import INFERENCE_ERRORS, add_model_route, response_model
from service.schemas import error_responses
from training import AnyModelSpec, AnySpec, ModelSpec
from training.data.images import MAX_IMAGE_BYTES, ImageTooLargeError, check_image
from training.schemas import ImageInput

UPLOAD_ERRORS = error_responses(
    (400, "the multipart body cannot be parsed"),
    (404, "no version of the model is published"),
    (413, "the body is over PRACTICA_MAX_BODY_BYTES"),
    (415, "the file is not a JPEG, PNG, WebP or GIF image"),
    (422, "no `file` field, or an image that cannot be decoded or is over the limits"),
    *INFERENCE_ERRORS,
)


def build_classify_router(catalog: Sequence[AnySpec]) -> APIRouter:
    router = APIRouter(prefix="/classify", tags=["classify"])
    for spec in catalog:
        if isinstance(spec, ModelSpec) and issubclass(spec.input_schema, ImageInput):
            add_model_route(
                router, f"/{spec.name}", _make_endpoint(spec), spec, verb="classify",
                summary=f"Classify an uploaded image with {spec.name}",
                description=(
                    f"{spec.title}. Send the image as multipart form field `file` (JPEG, PNG, "
                    f"WebP or GIF, at most {MAX_IMAGE_BYTES:,} bytes); the answer is the same "
                    f"as `POST /v1/models/{spec.name}/predict` with one instance."
                ),
                errors=UPLOAD_ERRORS,
            )  # fmt: skip
    return router


def _make_endpoint(spec: AnyModelSpec) -> Callable[..., Awaitable[Response]]:
    response_type = response_model(spec)
    input_type: type[ImageInput] = spec.input_schema
    name = spec.name

    async def classify(
        file: Annotated[UploadFile, File(description="the image file")],
        inference: InferenceDep,
    ) -> Response:
        model_var.set(name)
        data = await file.read(MAX_IMAGE_BYTES + 1)
        if len(data) > MAX_IMAGE_BYTES:  # only the first bytes past the limit were read
            raise ImageTooLargeError(
                f"the upload is over {MAX_IMAGE_BYTES:,} bytes: re-encode the image smaller"
            )
        check_image(data)  # format, header and pixel limits: microseconds
        result = await inference.infer(name, [input_type.from_upload(data)])
        response: BaseModel = response_type(
            model=name, version=result.version, predictions=result.outputs
        )
        return Response(response.model_dump_json(), media_type="application/json")

    return classify
