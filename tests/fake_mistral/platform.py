"""A few of the platform endpoints gatewise does not model, for the ``/mistral/*``
pass-through tests: files (upload, list), batch jobs (create, get) and agents
completions (answered like chat).  State lives in a :class:`Platform` per fake server."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import ErrorReply, bad_request
from .forms import Upload
from .validator import Error

Form = list[tuple[str, str | Upload]]
# The multipart form of POST /v1/files, as the spec's inline schema declares it.
_FILE_FIELDS = {"file", "purpose", "expiry", "visibility"}
_PURPOSES = ("fine-tune", "batch", "ocr")


@dataclass
class Platform:
    files: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reset(self) -> None:
        self.files.clear()
        self.jobs.clear()

    def upload(self, form: Form) -> ErrorReply:
        """``POST /v1/files``: a ``CreateFileResponse``."""
        errors: list[Error] = [
            {"type": "extra_forbidden", "loc": ["body", name],
             "msg": "Extra inputs are not permitted", "input": "..."}
            for name, _ in form if name not in _FILE_FIELDS]
        uploads = [v for name, v in form if name == "file" and isinstance(v, Upload)]
        if not uploads:
            errors.append({"type": "missing", "loc": ["body", "file"],
                           "msg": "Field required", "input": None})
        purpose = next((v for name, v in form if name == "purpose"), "fine-tune")
        if purpose not in _PURPOSES:
            errors.append({"type": "enum", "loc": ["body", "purpose"],
                           "msg": "Input should be 'fine-tune', 'batch' or 'ocr'",
                           "input": purpose})
        if errors:
            return 422, {"detail": errors}
        upload = uploads[0]
        record = {"id": str(uuid.uuid4()), "object": "file", "bytes": len(upload.data),
                  "created_at": int(time.time()), "filename": upload.filename,
                  "purpose": purpose, "sample_type": "batch_request" if purpose == "batch"
                  else "instruct", "num_lines": upload.data.count(b"\n"),
                  "mimetype": upload.content_type, "source": "upload"}
        self.files.append(record)
        return 200, record

    def list_files(self, query: dict[str, str]) -> ErrorReply:
        """``GET /v1/files``: a ``ListFilesResponse`` (``purpose`` filters)."""
        files = [f for f in self.files
                 if "purpose" not in query or f["purpose"] == query["purpose"]]
        return 200, {"data": files, "object": "list", "total": len(files)}

    def create_job(self, body: dict[str, Any]) -> ErrorReply:
        """``POST /v1/batch/jobs`` (a schema-valid body): a queued ``BatchJob``."""
        inputs = body.get("input_files") or []
        known = {f["id"] for f in self.files}
        unknown = [i for i in inputs if i not in known]
        if unknown:
            return bad_request(f"Input file {unknown[0]} not found")
        job = {"id": str(uuid.uuid4()), "object": "batch", "input_files": inputs,
               "metadata": body.get("metadata"), "endpoint": body["endpoint"],
               "model": body.get("model"), "agent_id": body.get("agent_id"),
               "output_file": None, "error_file": None, "errors": [], "outputs": None,
               "status": "QUEUED", "created_at": int(time.time()),
               "total_requests": len(body.get("requests") or []) or len(inputs),
               "completed_requests": 0, "succeeded_requests": 0, "failed_requests": 0,
               "started_at": None, "completed_at": None}
        self.jobs[job["id"]] = job
        return 200, job

    def get_job(self, job_id: str) -> ErrorReply:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"detail": "Batch job not found"}
        return 200, job

