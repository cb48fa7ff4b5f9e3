"""The local run's memory between runs: the emulator's tables and bucket, dumped to a folder.

moto keeps everything in memory, so without this a second `make run` would start from an
empty jobs table and take the same chapters again. At the end of a run (and on Ctrl-C)
the tables are scanned and the bucket's objects copied to `{local_state_dir}/snapshot/`;
at the start of the next run they are put back. Items are stored in DynamoDB's typed
JSON form ({"S": ...}, {"N": ...}) so numbers and sets survive exactly.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from manga2video.jobs import to_plain

SNAPSHOT = "snapshot"
TABLES = "tables"
OBJECTS = "objects"


def snapshot_dir(state_dir: Path) -> Path:
    return Path(state_dir) / SNAPSHOT


def _scan(dynamodb: Any, table: str) -> Iterator[dict[str, Any]]:
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        yield from page.get("Items", [])


def save(state_dir: Path, *, dynamodb: Any, s3: Any, tables: list[str], bucket: str) -> Path:
    """Dump the tables and the bucket; the previous snapshot is replaced only once this one is whole."""
    final = snapshot_dir(state_dir)
    partial = final.with_name(SNAPSHOT + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    (partial / TABLES).mkdir(parents=True)
    for table in tables:
        items = list(_scan(dynamodb, table))
        (partial / TABLES / f"{table}.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            target = partial / OBJECTS / item["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(target))
    previous = final.with_name(SNAPSHOT + ".old")
    shutil.rmtree(previous, ignore_errors=True)
    if final.exists():
        final.rename(previous)
    partial.rename(final)
    shutil.rmtree(previous, ignore_errors=True)
    return final


def restore(state_dir: Path, *, dynamodb: Any, s3: Any, tables: list[str], bucket: str) -> tuple[int, int]:
    """Put the last snapshot back into fresh tables and bucket; returns (items, objects) restored."""
    root = snapshot_dir(state_dir)
    items_restored = objects_restored = 0
    for table in tables:
        for item in table_items_raw(state_dir, table):
            dynamodb.put_item(TableName=table, Item=item)
            items_restored += 1
    objects = root / OBJECTS
    if objects.is_dir():
        for path in sorted(objects.rglob("*")):
            if path.is_file():
                s3.upload_file(str(path), bucket, path.relative_to(objects).as_posix())
                objects_restored += 1
    return items_restored, objects_restored


def table_items_raw(state_dir: Path, table: str) -> list[dict[str, Any]]:
    path = snapshot_dir(state_dir) / TABLES / f"{table}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def table_items(state_dir: Path, table: str) -> list[dict[str, Any]]:
    """The snapshot's items of a table as plain Python values (for reports and tests)."""
    deserializer = TypeDeserializer()
    return [
        to_plain({name: deserializer.deserialize(value) for name, value in item.items()})
        for item in table_items_raw(state_dir, table)
    ]


def object_keys(state_dir: Path) -> list[str]:
    """The keys of the snapshot's S3 objects."""
    objects = snapshot_dir(state_dir) / OBJECTS
    if not objects.is_dir():
        return []
    return sorted(path.relative_to(objects).as_posix() for path in objects.rglob("*") if path.is_file())
