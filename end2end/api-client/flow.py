"""One journey through the REST API with the Python client that openapi-python-client generated
from the server's own OpenAPI document (scripts/test generates it and runs this against the
end-to-end server): sign in with a personal access token, list the skills, run csv-summary with a
CSV file (a multipart request built by the client), wait for it, and download its report.

Usage: flow.py BASE_URL HOST TOKEN  (e.g. http://127.0.0.1:3000 acme.localhost egv_…)
"""

import io
import json
import sys
import time

from execgov_api import AuthenticatedClient
from execgov_api.api.account import me
from execgov_api.api.executions import (
    create_execution,
    download_artifact,
    execution_logs,
    get_execution,
)
from execgov_api.api.skills import list_skills
from execgov_api.models import ExecutionStatus, ExecutionView, Me, NewExecutionWithFiles
from execgov_api.types import File

SALES = "region,amount\nnorth,10\nsouth,20\nnorth,30\n"


def check(answer, kind):
    """The typed answer, or the problem details the server gave instead."""
    if not isinstance(answer, kind):
        sys.exit(f"expected a {kind.__name__}, got {answer!r}")
    return answer


def main(base_url, host, token):
    client = AuthenticatedClient(
        base_url=f"{base_url}/api/v1", token=token, headers={"Host": host}, timeout=60.0
    )
    who = check(me.sync(client=client), Me)
    print(f"signed in as {who.username} of {who.tenant}")

    skills = list_skills.sync(client=client)
    slugs = [skill.slug for skill in skills]
    assert "csv-summary" in slugs, f"csv-summary is not among {slugs}"
    print(f"{len(slugs)} skills: {', '.join(slugs)}")

    # A run with a file: the multipart form the document describes, built by the generated
    # client (the JSON request in `request`, the file in a part named after its input).
    request = {"skill": "csv-summary", "inputs": {"delimiter": "comma", "top_values": 1}}
    body = NewExecutionWithFiles(request=json.dumps(request))
    body["data"] = File(payload=io.BytesIO(SALES.encode()), file_name="sales.csv", mime_type="text/csv")
    answer = create_execution.sync_detailed(client=client, body=body)
    assert answer.status_code == 201, f"POST /executions: {answer.status_code} {answer.content!r}"
    run = check(answer.parsed, ExecutionView)
    run_id = run.summary.id
    print(f"execution {run_id}: {run.summary.status.value}")

    deadline = time.monotonic() + 120
    after = 0
    while True:
        page = execution_logs.sync(run_id, client=client, after=after, wait=10)
        after = page.next_
        if page.finished:
            break
        assert time.monotonic() < deadline, f"execution {run_id} did not finish in 120 s"
    view = check(get_execution.sync(run_id, client=client), ExecutionView)
    assert view.summary.status == ExecutionStatus.SUCCEEDED, f"the run ended {view.summary.status}: {view.reason}"
    paths = [artifact.path for artifact in view.artifacts]
    assert paths == ["report.md"], f"artifacts: {paths}"

    answer = download_artifact.sync_detailed(run_id, client=client, path="report.md")
    assert answer.status_code == 200, f"download: {answer.status_code} {answer.content!r}"
    report = answer.content.decode()
    assert len(answer.content) == view.artifacts[0].size, "the download has the listed size"
    for line in ("# CSV summary: sales.csv", "- Rows: 3", "- Columns: 2", "- Delimiter: comma"):
        assert line in report.splitlines(), f"{line!r} is not in the report:\n{report}"
    print(f"report.md ({len(answer.content)} bytes) downloaded; the journey works")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
