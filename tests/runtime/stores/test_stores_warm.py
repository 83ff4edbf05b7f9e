"""esb_runtime.stores.warm: moto serves DynamoDB and S3 before the stores say they are ready, and journals nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from esb_runtime.stores.journal import Journal
from esb_runtime.stores.recorder import Recorder
from esb_runtime.stores.warm import warm

pytestmark = pytest.mark.integration


def test_warm_reads_dynamodb_and_s3_through_moto_and_journals_nothing(tmp_path: Path) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    dispatcher = DomainDispatcherApplication(create_backend_app)
    recorder = Recorder(dispatcher, log=lambda text: None)
    recorder.journal = Journal(tmp_path / "journal", 1)
    try:
        assert warm(recorder, region="eu-west-1") == [200, 200]
        assert {"dynamodb", "s3"} <= set(dispatcher.app_instances)  # each service's code is loaded
        assert recorder.journal.records_in_segment == 0
    finally:
        recorder.journal.close()
