"""``POST /v1/ocr`` and ``POST /v1/audio/transcriptions`` after validation: deterministic,
schema-true answers (``OCRResponse``, ``TranscriptionResponse``, and the stream's
``TranscriptionStreamEvents``: ``event:`` + ``data:`` lines, no ``[DONE]``)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
from aiohttp import web

from .behaviors import Behavior, CutStream, StallStream
from .errors import ErrorReply, bad_request, invalid_model
from .forms import Upload
from .models import MODELS
from .tokens import count_tokens
from .wire import SSE, answer_headers, drop_connection

DOCUMENT_PAGES = 3  # the pages of every fake PDF (an image has one)
TRANSCRIPT = "Hello from the fake Mistral server, transcribed from your audio."
BYTES_PER_SECOND = 16_000  # of fake audio


def _page_numbers(pages: Any, total: int) -> list[int] | str:
    """The pages asked for (all when none), or why they cannot be processed."""
    if pages is None:
        return list(range(total))
    if isinstance(pages, list):
        wanted: list[int] = pages
    else:
        wanted = []
        for part in str(pages).split(","):
            match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
            if match is None:
                return f"Invalid pages format: {pages!r}"
            first, last = int(match[1]), int(match[2] or match[1])
            wanted.extend(range(first, last + 1))
    out_of_range = [p for p in wanted if not 0 <= p < total]
    if out_of_range:
        return f"Page {out_of_range[0]} is out of range: the document has {total} pages"
    return sorted(set(wanted))


def ocr_reply(body: dict[str, Any]) -> ErrorReply:
    """``(status, body)`` for a schema-valid OCR request."""
    facts = MODELS.get(body["model"])
    if facts is None or facts.mode != "ocr":
        return invalid_model(str(body["model"]))
    document = body["document"]
    total = 1 if "image_url" in document else DOCUMENT_PAGES
    numbers = _page_numbers(body.get("pages"), total)
    if isinstance(numbers, str):
        return bad_request(numbers)
    with_images = bool(body.get("include_image_base64"))
    boxes = body.get("bbox_annotation_format") is not None
    pages = []
    for number in numbers:
        image = {"id": f"img-{number}.jpeg", "top_left_x": 100, "top_left_y": 200,
                 "bottom_right_x": 600, "bottom_right_y": 500,
                 "image_base64": "data:image/jpeg;base64,/9j/4AAQ" if with_images else None,
                 "image_annotation": '{"kind": "figure"}' if boxes else None}
        pages.append({"index": number,
                      "markdown": f"# Page {number + 1}\n\nText of page {number + 1}, read by "
                                  f"the fake Mistral OCR.\n\n![{image['id']}]({image['id']})",
                      "images": [image], "tables": [], "hyperlinks": [], "header": None,
                      "footer": None, "dimensions": {"dpi": 200, "height": 2200, "width": 1700}})
    annotation = ('{"title": "A fake document"}' if body.get("document_annotation_format")
                  else None)
    size = len(orjson.dumps(document))
    return 200, {"pages": pages, "model": body["model"], "document_annotation": annotation,
                 "usage_info": {"pages_processed": len(pages), "doc_size_bytes": size}}


def transcription_reply(body: dict[str, Any], form: list[tuple[str, str | Upload]]
                        ) -> ErrorReply:
    """``(status, TranscriptionResponse)`` for a schema-valid transcription request."""
    facts = MODELS.get(body["model"])
    if facts is None or facts.mode != "audio_transcription":
        return invalid_model(str(body["model"]))
    files = [value for name, value in form if name == "file" and isinstance(value, Upload)]
    if not files and not body.get("file_url") and not body.get("file_id"):
        return bad_request("One of file, file_url or file_id must be provided")
    size = len(files[0].data) if files else 48_000
    seconds = max(1, size // BYTES_PER_SECOND)
    granularities = body.get("timestamp_granularities") or []
    words = TRANSCRIPT.split(" ")
    segments: list[dict[str, Any]] = []
    if "word" in granularities:
        step = seconds / len(words)
        segments = [_segment(w, i * step, (i + 1) * step) for i, w in enumerate(words)]
    elif granularities or body.get("diarize"):
        half = len(words) // 2
        segments = [_segment(" ".join(words[:half]), 0.0, seconds / 2),
                    _segment(" " + " ".join(words[half:]), seconds / 2, float(seconds))]
    if body.get("diarize"):
        for i, segment in enumerate(segments):
            segment["speaker_id"] = f"speaker_{i % 2}"
    completion = count_tokens(TRANSCRIPT)
    prompt = 4
    usage = {"prompt_audio_seconds": seconds, "prompt_tokens": prompt,
             "total_tokens": prompt + completion + seconds * 13,
             "completion_tokens": completion}
    return 200, {"model": body["model"], "text": TRANSCRIPT,
                 "language": body.get("language") or "en", "segments": segments,
                 "usage": usage}


def _segment(text: str, start: float, end: float) -> dict[str, Any]:
    return {"text": text, "start": round(start, 2), "end": round(end, 2),
            "type": "transcription_segment"}


def transcription_events(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream of ``answer``: its language, a delta per word, its segments, done."""
    events: list[dict[str, Any]] = [{"type": "transcription.language",
                                     "audio_language": answer["language"]}]
    words = answer["text"].split(" ")
    events += [{"type": "transcription.text.delta", "text": f" {w}" if i else w}
               for i, w in enumerate(words)]
    events += [{"type": "transcription.segment", "text": s["text"], "start": s["start"],
                "end": s["end"], "speaker_id": s.get("speaker_id")}
               for s in answer["segments"]]
    events.append({**answer, "type": "transcription.done"})
    return events


async def write_events(request: web.Request, events: list[dict[str, Any]],
                       behavior: Behavior | None, delay: float) -> web.StreamResponse:
    """Send ``events`` as Mistral's transcription SSE, misbehaving as scripted (see
    ``behaviors``); a client that leaves raises ``ConnectionResetError``."""
    response = web.StreamResponse(headers={"Content-Type": SSE, **answer_headers()})
    await response.prepare(request)
    for sent, event in enumerate(events):
        if isinstance(behavior, CutStream) and sent == behavior.after_events:
            if not behavior.clean:
                return drop_connection(request)
            break
        if isinstance(behavior, StallStream) and sent == behavior.after_events:
            await asyncio.sleep(behavior.seconds)
        if delay:
            await asyncio.sleep(delay)
        await response.write(b"event: " + event["type"].encode() + b"\ndata: "
                             + orjson.dumps(event) + b"\n\n")
    await response.write_eof()
    return response
