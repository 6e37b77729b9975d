"""The baseline for uploads: a bare Starlette PUT under uvicorn that streams the body to a
file (no signing, hashing, metadata or fsync). ``BARE_UPLOAD_DIR`` names the folder."""

import os
import tempfile

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def upload(request: Request) -> JSONResponse:
    fd, path = tempfile.mkstemp(dir=os.environ["BARE_UPLOAD_DIR"])
    size = 0
    with os.fdopen(fd, "wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
            size += len(chunk)
    os.unlink(path)
    return JSONResponse({"size": size})


app = Starlette(routes=[Route("/upload", upload, methods=["PUT"])])
