"""The floor: the echo endpoint as a bare Starlette app under uvicorn, no platform."""

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def echo(request: Request) -> Response:
    data = json.loads(await request.body())
    body = json.dumps({"message": data["message"] * data.get("repeat", 1)})
    return Response(body, media_type="application/json")


app = Starlette(routes=[Route("/", echo, methods=["POST"])])
