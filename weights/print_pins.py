"""Maintainer tool: print the commit and sha256 to pin for every Hub-hosted zoo record.

Run with internet access (or any HF_ENDPOINT), then copy the printed values into rqi_loss/zoo.py:

    python weights/print_pins.py
"""

from __future__ import annotations

from huggingface_hub import HfApi

from rqi_loss.zoo import get_model_record, list_models


def main() -> None:
    api = HfApi()
    for name in list_models():
        record = get_model_record(name)
        if record.source == "package":
            continue
        info = api.model_info(record.repo_id, revision=record.revision, files_metadata=True)
        files = {s.rfilename: s for s in info.siblings or []}
        entry = files.get(record.filename)
        if entry is None:
            print(f"{name}: {record.filename!r} not found in {record.repo_id}@{info.sha}")
            continue
        sha256 = entry.lfs.sha256 if entry.lfs else None
        print(
            f'{name}: repo_id="{record.repo_id}" filename="{record.filename}" revision="{info.sha}" '
            f'sha256="{sha256}" size={entry.size}'
        )


if __name__ == "__main__":
    main()
