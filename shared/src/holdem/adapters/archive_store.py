"""The hand archive's object store: S3 through boto3 (moto in tests and the local stack).

boto3 is blocking, so every call runs in a worker thread; one client serves the whole
process (boto3 clients are thread-safe). Writes send ``Content-MD5`` so S3 itself refuses
an object that arrived damaged: a successful ``put`` is the confirmation the archiver waits
for before it deletes hot rows.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from holdem.errors import ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ArchiveStoreError(ServiceError):
    """The object store failed or refused a request (translated from botocore)."""

    code = "archive_store_error"


class ArchiveObjectMissing(ArchiveStoreError):  # noqa: N818 - reads as a condition
    """The index names an object the store does not have."""

    code = "archive_object_missing"


class S3ArchiveStore:
    """An object store (`holdem.ports.ObjectStore`) on one S3 bucket."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    async def put(self, key: str, body: bytes, metadata: dict[str, str]) -> None:
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        await self._call(
            self._client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentMD5=md5,
            ContentType="application/octet-stream",
            Metadata=metadata,
        )

    async def get(self, key: str) -> bytes:
        try:
            response = await self._call(self._client.get_object, Bucket=self.bucket, Key=key)
        except ArchiveStoreError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and cause.response.get("Error", {}).get("Code") in (
                "NoSuchKey",
                "404",
            ):
                raise ArchiveObjectMissing(f"archive object {key} is missing") from cause
            raise
        body: bytes = await asyncio.to_thread(response["Body"].read)
        response["Body"].close()
        return body

    @staticmethod
    async def _call(method: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(method, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise ArchiveStoreError(f"S3 request failed: {exc}") from exc
