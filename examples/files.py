"""examples/files: URL inputs in, a stored file out (``openfal.toolkit``).

    curl -s -X POST localhost:8000/examples/files -H 'content-type: application/json' \
         -d '{"url": "data:text/plain;base64,aGVsbG8=", "upper": true}'

Reads the file at ``url`` (http(s), a data URI, or a file on this server; private
addresses are refused with a 422), and answers a new file on this server's storage.
"""

from pydantic import BaseModel

import openfal
from openfal.toolkit import File, FileUrl, download_bytes


class FilesInput(BaseModel):
    url: FileUrl
    upper: bool = False


class FilesOutput(BaseModel):
    file: File
    size: int


class Files(openfal.App, name="examples/files"):
    @openfal.endpoint("/")
    def run(self, input: FilesInput) -> FilesOutput:
        data = download_bytes(input.url)
        if input.upper:
            data = data.upper()
        out = File.from_bytes(data, content_type="text/plain", file_name="result.txt")
        return FilesOutput(file=out, size=len(data))
