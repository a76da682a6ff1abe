"""Hot folder for a scanning station.

A file is taken only once its size and modification time have stayed the same
for one whole poll, so a scanner still writing is never read half-way. Files in
a sub-folder named like a dossier code are attached to that dossier.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import errors
from pipeline.intake import DOSSIER_CODE
from workers.ingest import ingest_bytes
from workers.services import Services

DONE = ".done"
REJECTED = ".rejected"


@dataclass
class HotFolder:
    root: Path
    services: Services
    _seen: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / DONE).mkdir(exist_ok=True)
        (self.root / REJECTED).mkdir(exist_ok=True)

    @property
    def idle(self) -> bool:
        return not self._seen and not any(True for _ in self._candidates())

    def _candidates(self) -> list[tuple[Path, str | None]]:
        found: list[tuple[Path, str | None]] = []
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_file():
                found.append((entry, None))
            elif entry.is_dir():
                dossier = entry.name if DOSSIER_CODE.match(entry.name) else None
                for sub in sorted(entry.iterdir()):
                    if sub.is_file() and not sub.name.startswith("."):
                        found.append((sub, dossier))
        return found

    def _target(self, folder: str, path: Path) -> Path:
        rel = path.relative_to(self.root)
        target = self.root / folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        n = 1
        while target.exists():
            target = target.with_name(f"{rel.stem}.{n}{rel.suffix}")
            n += 1
        return target

    def poll(self) -> list[str]:
        """One pass: ingest every file that stopped changing; return what happened."""
        events: list[str] = []
        present = set()
        for path, dossier in self._candidates():
            present.add(path)
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if self._seen.get(path) != sig:
                self._seen[path] = sig
                continue
            del self._seen[path]
            events.append(self._take(path, dossier))
        for gone in set(self._seen) - present:
            del self._seen[gone]
        return events

    def _take(self, path: Path, dossier: str | None) -> str:
        try:
            ing = ingest_bytes(self.services, path.name, path.read_bytes(), dossier)
        except errors.StorageUnavailable as exc:
            return f"{path.name}: {exc.code}, will retry"
        except errors.DatabaseUnavailable as exc:
            return f"{path.name}: {exc.code}, will retry"
        except errors.SohoaError as exc:
            self._reject(path, exc.code, exc.detail, None)
            return f"{path.name}: rejected ({exc.code})"
        if ing.error:
            self._reject(path, ing.error.code, ing.error.detail, ing.document_id)
            return f"{path.name}: rejected ({ing.error.code}) document {ing.document_id}"
        shutil.move(path, self._target(DONE, path))
        return f"{path.name}: queued as document {ing.document_id}"

    def _reject(self, path: Path, code: str, message: str, document_id: str | None) -> None:
        target = self._target(REJECTED, path)
        shutil.move(path, target)
        reason = {"code": code, "message": message, "document_id": document_id, "source": path.name}
        target.with_name(target.name + ".reason.json").write_text(
            json.dumps(reason, ensure_ascii=False, indent=2), encoding="utf-8"
        )
