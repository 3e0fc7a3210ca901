"""Where things are stored: the only module that turns ids into keys and paths.

Blob keys (relative to the store's root):

    sessions/<sessionId>/chunk-<uploadId>     one received chunk; the chunks table says
                                              which chunk number it is
    objects/sha256/<ab>/<sha256>              a model file, stored once by content however
                                              many models use it (model_files says which)

Local paths (always on the server's own disk, under data_dir):

    staging/<dockStatusId>/                   an import job's scratch space; removed
                                              when the job ends
"""

from __future__ import annotations

import uuid
from pathlib import Path


def chunk_key(session_id: str) -> str:
    # A fresh name per upload attempt, so two uploads of the same chunk number never
    # write the same file; the database row decides which one counts.
    return f"sessions/{session_id}/chunk-{uuid.uuid4().hex}"


def session_prefix(session_id: str) -> str:
    return f"sessions/{session_id}"


def object_key(sha256: str) -> str:
    return f"objects/sha256/{sha256[:2]}/{sha256}"


def staging_dir(data_dir: Path, job_id: str) -> Path:
    return data_dir / "staging" / job_id
