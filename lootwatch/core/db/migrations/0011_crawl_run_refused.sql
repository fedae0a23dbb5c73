-- A crawl that was not started because another run of its site was still running is recorded
-- (status 'refused', the reason in note) rather than only logged: crawl workers on many machines
-- refuse such runs, and the operator sees each refusal beside the runs in `lootwatch status`.
ALTER TABLE crawl_runs DROP CONSTRAINT crawl_runs_status_check;
ALTER TABLE crawl_runs ADD CONSTRAINT crawl_runs_status_check
    CHECK (status IN ('running', 'finished', 'failed', 'refused'));
