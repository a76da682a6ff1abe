"""The `sohoa` command line: process, ingest, watch, worker, serve, apikey, audit, doctor, demo."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from config.settings import Settings, load_settings
from pipeline import errors
from schemas.record import Record, RecordStatus

app = typer.Typer(add_completion=False, help="sohoa: digitise scans into reusable records.")
apikey_app = typer.Typer(help="Manage API keys.")
app.add_typer(apikey_app, name="apikey")
audit_app = typer.Typer(help="The hash-chained audit log.")
app.add_typer(audit_app, name="audit")
user_app = typer.Typer(help="People who sign in to the web pages (operators, admins).")
app.add_typer(user_app, name="user")
out = Console()
err = Console(stderr=True)

KEY_FIELDS = ("personal_id", "full_name", "date_of_birth", "document_number", "issue_date")


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _services(settings: Settings):  # type: ignore[no-untyped-def]
    from workers.services import Services

    try:
        return Services.from_settings(settings)
    except errors.SohoaError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(exc.exit_status) from exc


def _agency_keys(settings: Settings) -> None:
    """Load (or on first run generate) the signing keys now: a bad path fails at start."""
    from pipeline.signing import AgencyKeys

    settings.ensure_dirs()
    try:
        keys = AgencyKeys.from_settings(settings)
    except (OSError, TypeError, ValueError) as exc:
        err.print(f"[red]signing keys: {exc}[/red]")
        raise typer.Exit(2) from exc
    if keys.development:
        err.print(f"[yellow]development signing keys in {settings.resolved_data_dir / 'keys'}")


def _records_table(records: list[Record]) -> Table:
    table = Table(title="Records")
    for col in ("source", "pages", "type", "key fields", "status"):
        table.add_column(col)
    for r in records:
        if r.error:
            fields = f"{r.error.code}: {r.error.message}"
        else:
            fields = "\n".join(
                f"{k}: {r.fields[k].value} ({r.fields[k].confidence:.2f})"
                for k in KEY_FIELDS
                if k in r.fields
            )
        style = {
            "digitised": "green",
            "published": "green",
            "approved": "green",
            "needs_review": "yellow",
            "rejected": "red",
        }[r.status.value]
        table.add_row(
            r.source,
            ",".join(map(str, r.pages)) or "-",
            r.doc_type,
            fields or "-",
            f"[{style}]{r.status.value}[/{style}]",
        )
    return table


@app.command()
def process(
    files: Annotated[list[Path], typer.Argument(help="Scans: PDF, PNG, JPEG, TIFF.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON record per line.")] = False,
    jobs: Annotated[int, typer.Option(help="OCR processes (default: one per core).")] = 0,
    dossier: Annotated[str | None, typer.Option(help="Dossier code to attach.")] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Also write each record's PDF/A, text, JSON and hOCR here."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Digitise files in this process, with no broker or database; print the records."""
    from pipeline.intake import check_dossier_code, safe_name
    from pipeline.process import ProcessOptions, page_pool, process_paths
    from pipeline.types import Limits

    _logging(verbose)
    settings = load_settings()
    try:
        dossier = check_dossier_code(dossier)
    except errors.SohoaError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(2) from exc
    options = ProcessOptions(
        limits=Limits(settings.max_file_bytes, settings.max_pages, settings.max_page_pixels),
        dpi=settings.raster_dpi,
        lang=settings.ocr_lang,
        timeout_s=settings.page_timeout_s,
    )
    rejected = False
    every: list[Record] = []
    named = [(safe_name(p.name), p) for p in files]
    with page_pool(jobs or None) as pool:
        for done in process_paths(named, options, pool, dossier):
            if out_dir is not None:
                _write_outputs(out_dir, done, settings)
            for rec in done.records:
                rejected = rejected or rec.status is RecordStatus.rejected
                if as_json:
                    sys.stdout.write(rec.model_dump_json() + "\n")
                    sys.stdout.flush()
            every.extend(done.records)
    if not as_json:
        out.print(_records_table(every))
    raise typer.Exit(2 if rejected else 0)


def _write_outputs(out_dir: Path, done: object, settings: Settings) -> None:
    from pipeline import signing
    from pipeline.process import ProcessedFile, record_archive_pdf

    assert isinstance(done, ProcessedFile)
    keys = signing.AgencyKeys.from_settings(settings)
    for rec in done.records:
        if rec.error is not None:
            continue
        folder = out_dir / rec.record_code
        folder.mkdir(parents=True, exist_ok=True)
        body = rec.model_dump(mode="json")
        sealed = signing.seal_record(
            record_code=rec.record_code,
            original_sha256=rec.sha256,
            record_json=json.dumps(body, ensure_ascii=False, indent=2).encode(),
            text=rec.text.encode(),
            archive_pdf=record_archive_pdf(rec, done.pages),
            fields=body["fields"],
            keys=keys,
        )
        for kind, name in (
            ("json", "record.json"),
            ("text", "text.txt"),
            ("pdf", "archive.pdf"),
            ("manifest", "manifest.json"),
        ):
            (folder / name).write_bytes(sealed[kind])
        for n in rec.pages:
            (folder / f"page-{n:04d}.hocr").write_text(done.pages[n].page.hocr, encoding="utf-8")


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="Scans to store and queue.")],
    dossier: Annotated[
        str | None, typer.Option(help="Dossier code, e.g. 000.00.00.H55-230415-0001")
    ] = None,
) -> None:
    """Store each original, create its rows and queue it; print the document IDs."""
    from workers.app import configure
    from workers.ingest import ingest_bytes

    _logging(False)
    settings = load_settings()
    configure(settings)
    svc = _services(settings)
    status = 0
    for path in files:
        try:
            ing = ingest_bytes(svc, path.name, path.read_bytes(), dossier)
        except errors.SohoaError as exc:
            err.print(f"[red]{path.name}: {exc.code}[/red]: {exc.detail}")
            raise typer.Exit(exc.exit_status) from exc
        if ing.error:
            status = 2
            out.print(f"{ing.document_id}\t{ing.source}\trejected\t{ing.error.code}")
        else:
            out.print(f"{ing.document_id}\t{ing.source}\tqueued")
    raise typer.Exit(status)


@app.command()
def watch(
    folder: Annotated[Path, typer.Argument(help="Hot folder; sub-folders are dossier codes.")],
    interval: Annotated[float, typer.Option(help="Seconds between scans of the folder.")] = 1.0,
    once: Annotated[bool, typer.Option(help="Exit when nothing is left to ingest.")] = False,
) -> None:
    """Ingest files dropped in FOLDER once fully written; move them to .done/ or .rejected/."""
    from workers.app import configure
    from workers.watch import HotFolder

    _logging(True)
    settings = load_settings()
    configure(settings)
    hot = HotFolder(folder, _services(settings))
    err.print(f"watching {folder} (Ctrl-C to stop)")
    try:
        while True:
            for event in hot.poll():
                err.print(event)
            if once and hot.idle:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes (default: cores).")] = 0,
    loglevel: Annotated[str, typer.Option()] = "INFO",
    beat: Annotated[
        bool,
        typer.Option(help="Also run the periodic jobs (webhook re-delivery); one per deployment."),
    ] = False,
) -> None:
    """Run a Celery worker for the pipeline."""
    from workers.app import configure

    settings = load_settings()
    settings.ensure_dirs()
    from schemas.db import migrate

    migrate(settings.db_url)
    _agency_keys(settings)
    celery = configure(settings)
    from workers.app import worker_queues

    queues = ",".join(worker_queues(settings.queue))
    argv = ["worker", "-Q", queues, "--loglevel", loglevel, "-n", f"sohoa-{os.getpid()}@%h"]
    if concurrency:
        argv += ["-c", str(concurrency)]
    if beat:
        argv.append("-B")
    celery.worker_main(argv)


@app.command()
def retry(
    document: Annotated[
        list[str] | None, typer.Option(help="A document to resume (repeatable).")
    ] = None,
    all_parked: Annotated[
        bool, typer.Option(help="Resume every parked or failed document.")
    ] = False,
    stalled_after: Annotated[
        float | None,
        typer.Option(help="Also resume documents with no progress for this many seconds."),
    ] = None,
) -> None:
    """Re-enqueue parked, failed and stalled documents; each resumes where it stopped."""
    from kombu.exceptions import OperationalError as BrokerError

    from workers.app import configure
    from workers.tasks import requeue

    _logging(False)
    settings = load_settings()
    configure(settings)
    svc = _services(settings)
    try:
        found = requeue(
            svc, document_ids=document or (), parked=all_parked, stalled_after=stalled_after
        )
    except errors.SohoaError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(exc.exit_status) from exc
    except BrokerError as exc:
        err.print("[red]broker_unavailable[/red]: the broker cannot be reached")
        raise typer.Exit(3) from exc
    for doc_id in found:
        out.print(f"{doc_id}\tqueued")
    missing = set(document or ()) - set(found)
    for doc_id in sorted(missing):
        err.print(f"{doc_id}: not resumable (final, unknown, or in progress)")
    raise typer.Exit(1 if missing else 0)


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="API processes on the one port (each with its own pool and sealer)."
        ),
    ] = 1,
) -> None:
    """Run the HTTP API."""
    import uvicorn

    from api.app import create_app
    from workers.app import configure

    _logging(True)
    settings = load_settings()
    configure(settings)
    _agency_keys(settings)
    services = _services(settings)  # migrates the database once, before any process serves
    # No access log: query strings carry personal ID numbers. uvloop sets TCP_NODELAY on
    # every connection; asyncio's own loop does not on the socket uvicorn binds for
    # several processes, and each keep-alive response then waits ~40 ms (measured).
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "access_log": False,
        "loop": "uvloop",
        "http": "httptools",
    }
    if workers == 1:
        uvicorn.run(create_app(services), **common)
    else:
        uvicorn.run("api.app:app_from_environment", factory=True, workers=workers, **common)


@app.command()
def monitor(
    port: Annotated[int, typer.Option(help="Port of /metrics.")] = 9108,
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 inside a container network).")
    ] = "127.0.0.1",
) -> None:
    """Serve Prometheus metrics from Celery events (every worker) and the database."""
    from workers import monitor as monitoring

    _logging(True)
    settings = load_settings()
    settings.ensure_dirs()
    from schemas.db import migrate

    migrate(settings.db_url)
    err.print(f"metrics on http://{host}:{port}/metrics (Ctrl-C to stop)")
    try:
        monitoring.serve(settings, port, host)
    except KeyboardInterrupt:
        err.print("monitor stopped")


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="The client system's name.")],
    scope: Annotated[list[str], typer.Option(help="Repeat for each scope.")] = ["records:read"],  # noqa: B006
    agency: Annotated[str | None, typer.Option(help="Agency code the key acts for.")] = None,
    rate_limit: Annotated[
        int | None,
        typer.Option(help="Requests per minute for this key (0: none; default: the server's)."),
    ] = None,
) -> None:
    """Create an API key and print it once; only its hash is stored. The change is audited."""
    from api.keys import create_key
    from schemas.audit import append

    svc = _services(load_settings())
    with svc.sessions() as s:
        # Appended first: create_key's commit stores the key and its audit entry together.
        append(
            s,
            actor=_operator(),
            action="apikey.create",
            agency_code=agency,
            detail=f"name={name} scopes={' '.join(scope)}"
            + (f" rate={rate_limit}" if rate_limit is not None else ""),
        )
        try:
            key = create_key(s, name, scope, agency, rate_limit)
        except ValueError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
    out.print(key)


def _operator() -> str:
    """Who ran a command that changes keys: the local account, for the audit log."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"[:100]
    except Exception:  # no user name (containers without a passwd entry)
        return f"cli:uid {os.getuid()}"


def _key_detail(info: object) -> str:
    """An audit detail naming a key: never its secret or hash."""
    from api.keys import KeyInfo

    assert isinstance(info, KeyInfo)
    return (
        f"id={info.id} name={info.name} agency={info.agency_code} "
        f"scopes={' '.join(info.scopes)} rate={info.rate_limit_per_minute}"
    )


@apikey_app.command("list")
def apikey_list(
    revoked: Annotated[bool, typer.Option(help="Show revoked keys too.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per key.")] = False,
) -> None:
    """List the keys (never their secrets or hashes)."""
    from api.keys import list_keys

    svc = _services(load_settings())
    with svc.sessions() as s:
        infos = list_keys(s, include_revoked=revoked)
    if as_json:
        for i in infos:
            row = {
                "id": i.id,
                "name": i.name,
                "agency_code": i.agency_code,
                "scopes": i.scopes,
                "rate_limit_per_minute": i.rate_limit_per_minute,
                "created_at": i.created_at.isoformat(),
                "rotated_at": i.rotated_at.isoformat() if i.rotated_at else None,
                "revoked_at": i.revoked_at.isoformat() if i.revoked_at else None,
                "active": i.active,
            }
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    table = Table(title="API keys")
    for col in ("id", "name", "agency", "scopes", "per min", "created", "rotated", "state"):
        table.add_column(col)
    for i in infos:
        table.add_row(
            str(i.id),
            i.name,
            i.agency_code or "-",
            " ".join(i.scopes),
            "default" if i.rate_limit_per_minute is None else str(i.rate_limit_per_minute),
            f"{i.created_at:%Y-%m-%d %H:%M}",
            f"{i.rotated_at:%Y-%m-%d %H:%M}" if i.rotated_at else "-",
            "[green]active[/green]" if i.active else f"[red]revoked {i.revoked_at:%Y-%m-%d}[/red]",
        )
    out.print(table)


@apikey_app.command("rotate")
def apikey_rotate(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `sohoa apikey list`).")],
    grace: Annotated[
        int, typer.Option(help="Seconds the old secret keeps working (0: it stops now).")
    ] = 0,
) -> None:
    """Give a key a new secret and print it once; the old one stops (after GRACE). Audited.

    API processes that cached the old secret drop it within SOHOA_AUTH_CACHE_TTL_S.
    """
    from api.keys import KeyNotFound, KeyRevoked, rotate_key
    from schemas.audit import append

    settings = load_settings()
    svc = _services(settings)
    with svc.sessions() as s:
        try:
            info, key = rotate_key(s, key_id, grace, settings.key_rotation_max_grace_s)
        except KeyNotFound as exc:
            err.print(f"[red]no API key {key_id}[/red]")
            raise typer.Exit(2) from exc
        except KeyRevoked as exc:
            err.print(f"[red]API key {key_id} is revoked[/red]")
            raise typer.Exit(2) from exc
        except ValueError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        append(
            s,
            actor=_operator(),
            action="apikey.rotate",
            agency_code=info.agency_code,
            detail=f"{_key_detail(info)} grace_s={grace}",
        )
        s.commit()
    out.print(key)


@apikey_app.command("revoke")
def apikey_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `sohoa apikey list`).")],
) -> None:
    """Revoke a key (and any old secret still in grace). Audited.

    API processes that cached it refuse it within SOHOA_AUTH_CACHE_TTL_S.
    """
    from api.keys import KeyNotFound, revoke_key
    from schemas.audit import append

    svc = _services(load_settings())
    with svc.sessions() as s:
        try:
            info, changed = revoke_key(s, key_id)
        except KeyNotFound as exc:
            err.print(f"[red]no API key {key_id}[/red]")
            raise typer.Exit(2) from exc
        if changed:
            append(
                s,
                actor=_operator(),
                action="apikey.revoke",
                agency_code=info.agency_code,
                detail=_key_detail(info),
            )
        s.commit()
    out.print(f"revoked {info.id} ({info.name})" if changed else f"{info.id} was already revoked")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain: exit 0 when intact, 1 at the first bad entry.

    Entries still pending (written by the API's hot reads, not yet chained) are sealed
    first, so the check covers every committed entry.
    """
    from schemas.audit import chain_head, pending, seal, verify_chain

    svc = _services(load_settings())
    with svc.sessions() as s:
        while seal(s):
            s.commit()
        s.commit()
        ok, bad = verify_chain(s)
        head = chain_head(s)
        left = pending(s)
    if not ok:
        err.print(f"[red]audit log broken at entry {bad}[/red]")
        out.print(f"first bad entry: {bad}")
        raise typer.Exit(1)
    out.print(
        f"audit log intact: {head.entries} entries, last {head.last_id}, hash {head.last_hash}"
        + (f" ({left} written since, not yet chained)" if left else "")
    )


@app.command()
def doctor(
    repair: Annotated[
        bool,
        typer.Option(help="Re-ingest orphan originals; mark rows without originals failed."),
    ] = False,
    rehash: Annotated[
        bool, typer.Option(help="Also re-hash originals and records against the database.")
    ] = False,
    sample: Annotated[
        int | None, typer.Option(help="With --rehash: check this many at random, not all.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON report.")] = False,
) -> None:
    """Find originals without rows and rows without originals (and, with --rehash, altered
    artifacts); exit 1 while any problem is left unrepaired. Run --repair before the doors
    open: a file being ingested at that moment looks like an orphan."""
    from workers import doctor as doc
    from workers.app import configure

    _logging(False)
    settings = load_settings()
    configure(settings)
    svc = _services(settings)
    try:
        report = doc.find_orphans(svc, repair=repair)
        if rehash:
            report.extend(doc.rehash(svc, sample=sample))
    except errors.SohoaError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise typer.Exit(exc.exit_status) from exc
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        table = Table(title="sohoa doctor")
        for col in ("problem", "subject", "detail", "action"):
            table.add_column(col)
        for p in report.problems:
            style = "green" if p.resolved else "red"
            table.add_row(f"[{style}]{p.kind}[/{style}]", p.subject, p.detail, p.action or "-")
        out.print(table)
        checked = ", ".join(f"{k} {v}" for k, v in report.checked.items())
        out.print(f"checked: {checked}; " + ("ok" if report.ok else "problems remain"))
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def schema(
    write: Annotated[bool, typer.Option(help="Write schemas/record.schema.json.")] = False,
) -> None:
    """Print (or write) the record's JSON Schema."""
    from schemas.record import SCHEMA_PATH, render_record_schema

    text = render_record_schema()
    if write:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@app.command()
def demo(
    folder: Annotated[Path, typer.Argument(help="Scans to process.")] = Path("samples"),
    concurrency: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    timeout: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 600,
) -> None:
    """Start a worker, ingest FOLDER's scans, show progress, print what was found, stop."""
    from sqlalchemy import select

    from schemas.db import Document, DocumentStatus, RecordRow
    from workers.app import configure
    from workers.ingest import ingest_bytes

    settings = load_settings()
    configure(settings)
    svc = _services(settings)
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        err.print(f"[red]no files in {folder}[/red]")
        raise typer.Exit(2)
    log_path = settings.resolved_data_dir / "demo-worker.log"
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "worker",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "WARNING",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        ids = [ingest_bytes(svc, p.name, p.read_bytes()).document_id for p in files]
        deadline = time.monotonic() + timeout
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            bar = progress.add_task("pages read", total=None)
            while True:
                with svc.sessions() as s:
                    docs = list(s.scalars(select(Document).where(Document.id.in_(ids))))
                total = sum(d.page_count for d in docs)
                done = sum(
                    d.page_count if d.status in DocumentStatus.FINAL else d.pages_done for d in docs
                )
                finished = sum(d.status in DocumentStatus.FINAL for d in docs)
                progress.update(
                    bar,
                    total=total or None,
                    completed=done,
                    description=f"files {finished}/{len(ids)}, pages read",
                )
                if finished == len(ids):
                    break
                if proc.poll() is not None:
                    err.print(f"[red]worker exited; see {log_path}[/red]")
                    raise typer.Exit(1)
                if time.monotonic() > deadline:
                    err.print("[red]timed out[/red]")
                    raise typer.Exit(1)
                time.sleep(0.5)
        records: list[Record] = []
        with svc.sessions() as s:
            for doc_id in ids:
                doc = s.get(Document, doc_id)
                rows = list(
                    s.scalars(
                        select(RecordRow)
                        .where(RecordRow.document_id == doc_id)
                        .order_by(RecordRow.first_page)
                    )
                )
                if rows:
                    records.extend(Record.model_validate(r.body) for r in rows)
                elif doc is not None:
                    from pipeline.assemble import rejected_record

                    records.append(
                        rejected_record(
                            document_id=doc.id,
                            source=doc.source,
                            sha256=doc.sha256,
                            dossier_code=doc.dossier_code,
                            code=doc.error_code or "internal_error",
                            message=doc.error_message or "",
                        )
                    )
        out.print(_records_table(records))
        out.print(f"database: {settings.db_url}\nobjects: {svc.store.url}")
    finally:
        proc.terminate()  # warm shutdown: the worker stops its own pool
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="User name: lowercase letters, digits, . _ -")],
    role: Annotated[str, typer.Option(help="operator or admin.")] = "operator",
    agency: Annotated[str | None, typer.Option(help="Agency code the user works for.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a web user; the password is asked for (never an argument) and stored as an Argon2
    hash. The change is audited."""
    from api.sessions import create_user
    from schemas.audit import append

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    svc = _services(load_settings())
    with svc.sessions() as s:
        try:
            user = create_user(s, name, password, role, agency)
        except ValueError as exc:
            err.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from exc
        append(
            s,
            actor=_operator(),
            action="user.create",
            agency_code=agency,
            detail=f"user={user.username} role={user.role}",
        )
        s.commit()
    out.print(f"user {name} ({role}) created")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
