"""
Drives the service with the unmodified Hail client (`hailtop.batch_client`, PyPI package `hail`)
and prints one JSON summary line on stdout for test/e2e/hail-client.test.ts to check.

Environment:
  HB_BILLING_PROJECT  billing project to submit to (default: test)
  HB_IMAGE            image for the jobs (default: hail-batch-busybox:latest)
  HB_CLIENT_MODE      'explicit' (default): build the client from HB_URL and HB_TOKEN;
                      'env': build it with no arguments, as existing Hail code does, so the URL
                      and token come from Hail's own configuration (HAIL_TERRA, HAIL_LOCATION,
                      HAIL_DOMAIN, HAIL_TOKENS_FILE, ...).
  HB_URL, HB_TOKEN    the service URL and a user token (explicit mode)
  HB_RUN              a tag put on every batch as attribute `run` (default: random)

Scenarios (explicit mode): a diamond DAG that succeeds; a failing job whose child is cancelled;
a sleeping job that is cancelled through the client; nested job groups (create_job_group), one
of them cancelled through the client, and a later update adding a group under an earlier one.
Env mode runs one small job only.
"""

import json
import os
import secrets
import sys
import time
from typing import Any, Dict, List, Optional

from hailtop import httpx
from hailtop.aiocloud.common import Session
from hailtop.batch_client import aioclient
from hailtop.batch_client.client import Batch, BatchClient, Job
from hailtop.utils import async_to_blocking

BILLING_PROJECT = os.environ.get('HB_BILLING_PROJECT', 'test')
IMAGE = os.environ.get('HB_IMAGE', 'hail-batch-busybox:latest')
MODE = os.environ.get('HB_CLIENT_MODE', 'explicit')
RUN = os.environ.get('HB_RUN') or secrets.token_hex(4)
RESOURCES = {'cpu': '0.25', 'memory': 'standard'}
DEADLINE = time.monotonic() + float(os.environ.get('HB_SCRIPT_TIMEOUT', '90'))


def explicit_client() -> BatchClient:
    """A client for a service at an arbitrary URL (plain http is fine) with an explicit token."""
    url = os.environ['HB_URL'].rstrip('/')
    token = os.environ['HB_TOKEN']

    async def make() -> aioclient.BatchClient:
        # Session opens an aiohttp session, so build it inside the client's event loop.
        return aioclient.BatchClient(
            BILLING_PROJECT,
            url=url,
            session=Session(credentials=aioclient.HailExplicitTokenCredentials(token)),
            headers={},
        )

    return BatchClient.from_async(async_to_blocking(make()))


def step(name: str) -> None:
    print(f'[client_dag] {name}', file=sys.stderr, flush=True)
    if time.monotonic() > DEADLINE:
        raise TimeoutError(f'client_dag ran out of time before: {name}')


def wait(batch: Batch) -> Dict[str, Any]:
    return batch.wait(disable_progress_bar=True)


def batch_summary(status: Dict[str, Any]) -> Dict[str, Any]:
    keys = ['id', 'state', 'complete', 'closed', 'n_jobs', 'n_completed', 'n_succeeded', 'n_failed',
            'n_cancelled', 'time_created', 'time_completed', 'attributes', 'cost']
    return {k: status.get(k) for k in keys}


def job_summary(client: BatchClient, batch_id: int, job_id: int) -> Dict[str, Any]:
    """GET job through the client, plus what the client itself derives from the job JSON."""
    job = client.get_job(batch_id, job_id)
    status = job.status()
    container_statuses = (status.get('status') or {}).get('container_statuses') or {}
    return {
        'job_id': status['job_id'],
        'name': status.get('name'),
        'state': status['state'],
        'exit_code': status.get('exit_code'),
        'client_exit_code': Job.exit_code(status),
        'main_exit_code': Job._get_exit_code(status, 'main'),
        'main_error': Job._get_error(status, 'main'),
        'start_time': status.get('start_time'),
        'end_time': status.get('end_time'),
        'status_start_time': (status.get('status') or {}).get('start_time'),
        'status_end_time': (status.get('status') or {}).get('end_time'),
        'containers': sorted(container_statuses),
        'attributes': job.attributes(),
        'image': ((status.get('spec') or {}).get('process') or {}).get('image'),
    }


def list_ids(client: BatchClient, q: str) -> List[int]:
    return [b.id for b in client.list_batches(q=q, limit=100)]


def dag_scenario(client: BatchClient) -> Dict[str, Any]:
    step('dag: build and submit')
    b = client.create_batch(attributes={'name': 'hail-client-dag', 'run': RUN})
    a = b.create_job(IMAGE, ['sh', '-c', 'echo hello-a'], attributes={'name': 'a'}, resources=RESOURCES)
    jb = b.create_job(IMAGE, ['sh', '-c', 'echo hello-b; sleep 1'], attributes={'name': 'b'}, parents=[a],
                      resources=RESOURCES)
    jc = b.create_job(IMAGE, ['sh', '-c', 'echo hello-c'], attributes={'name': 'c'}, parents=[a],
                      resources=RESOURCES, env={'GREETING': 'hello-env'})
    d = b.create_job(IMAGE, ['sh', '-c', 'echo hello-d; echo "$GREETING-d"; echo to-stderr >&2'],
                     attributes={'name': 'd'}, parents=[jb, jc], resources=RESOURCES,
                     env={'GREETING': 'hello-env'})
    b.submit(disable_progress_bar=True)
    jobs = [a, jb, jc, d]
    step(f'dag: submitted batch {b.id}, jobs {[j.job_id for j in jobs]}; waiting')
    status = wait(b)

    step('dag: details')
    listed = list(b.jobs())  # the client's own job listing (root job group, recursive)
    d_job = client.get_job(b.id, d.job_id)
    return {
        'batch_id': b.id,
        'job_ids': [j.job_id for j in jobs],
        'submission_used_fast_path': b._submission_info.used_fast_path,
        'status': batch_summary(status),
        'get_batch': batch_summary(client.get_batch(b.id).status()),
        'jobs': [job_summary(client, b.id, j.job_id) for j in jobs],
        'listed_jobs': [{'job_id': j['job_id'], 'state': j['state'], 'exit_code': j.get('exit_code'),
                         'name': j.get('name')} for j in listed],
        'main_log_d': d_job.container_log('main').decode('utf-8', 'replace'),
        'log_d': d_job.log(),  # the deprecated {container: text} form
        'client_log_a': client.get_job_log(b.id, a.job_id),
        'attempts_d': d_job.attempts(),
        'client_attempts_a': client.get_job_attempts(b.id, a.job_id),
        'is_complete_d': d_job.is_complete(),
    }


def failure_scenario(client: BatchClient) -> Dict[str, Any]:
    step('failure: submit')
    b = client.create_batch(attributes={'name': 'hail-client-failure', 'run': RUN})
    f = b.create_job(IMAGE, ['sh', '-c', 'echo failing; exit 1'], attributes={'name': 'fails'}, resources=RESOURCES)
    child = b.create_job(IMAGE, ['sh', '-c', 'echo never'], attributes={'name': 'child'}, parents=[f],
                         resources=RESOURCES)
    cleanup = b.create_job(IMAGE, ['sh', '-c', 'echo cleanup'], attributes={'name': 'cleanup'}, parents=[f],
                           always_run=True, resources=RESOURCES)
    b.submit(disable_progress_bar=True)
    step(f'failure: submitted batch {b.id}; waiting')
    status = wait(b)
    failing = client.get_job(b.id, f.job_id)
    return {
        'batch_id': b.id,
        'status': batch_summary(status),
        'jobs': [job_summary(client, b.id, j.job_id) for j in (f, child, cleanup)],
        'main_log_failing': failing.container_log('main').decode('utf-8', 'replace'),
        'attempts_child': client.get_job_attempts(b.id, child.job_id),
    }


def cancel_scenario(client: BatchClient) -> Dict[str, Any]:
    step('cancel: submit')
    b = client.create_batch(attributes={'name': 'hail-client-cancel', 'run': RUN})
    sleeper = b.create_job(IMAGE, ['sh', '-c', 'echo sleeping; sleep 300'], attributes={'name': 'sleeper'},
                           resources=RESOURCES)
    after = b.create_job(IMAGE, ['sh', '-c', 'echo after'], attributes={'name': 'after'}, parents=[sleeper],
                         resources=RESOURCES)
    b.submit(disable_progress_bar=True)
    step(f'cancel: submitted batch {b.id}; waiting for the sleeper to run')
    while not sleeper.is_running():
        if sleeper.is_complete():
            raise RuntimeError(f'sleeper completed before it was cancelled: {sleeper.status()}')
        if time.monotonic() > DEADLINE:
            raise TimeoutError(f'sleeper never ran: {sleeper.status()}')
        time.sleep(0.2)
    step('cancel: cancelling')
    t0 = time.monotonic()
    b.cancel()
    status = wait(b)
    cancel_secs = time.monotonic() - t0
    jobs = [job_summary(client, b.id, j.job_id) for j in (sleeper, after)]

    step('cancel: delete')
    b.delete()
    after_delete: Optional[int] = None
    try:
        client.get_batch(b.id)
    except httpx.ClientResponseError as e:
        after_delete = e.status
    return {
        'batch_id': b.id,
        'status': batch_summary(status),
        'jobs': jobs,
        'cancel_to_complete_secs': round(cancel_secs, 2),
        'get_after_delete_status': after_delete,
    }


def group_summary(status: Dict[str, Any]) -> Dict[str, Any]:
    keys = ['job_group_id', 'state', 'complete', 'n_jobs', 'n_completed', 'n_succeeded', 'n_failed',
            'n_cancelled', 'attributes', 'cost', 'duration']
    return {k: status.get(k) for k in keys}


def groups_scenario(client: BatchClient) -> Dict[str, Any]:
    step('groups: submit nested job groups')
    # No `run` attribute: the listing checks count only the other scenarios' batches.
    b = client.create_batch(attributes={'name': 'hail-client-groups', 'groups_run': RUN})
    outer = b.create_job_group(attributes={'name': 'outer'})
    inner = outer.create_job_group(attributes={'name': 'inner'})
    other = b.create_job_group(attributes={'name': 'other'})
    outer.create_job(IMAGE, ['true'], attributes={'name': 'o1'}, resources=RESOURCES)
    inner.create_job(IMAGE, ['sh', '-c', 'exit 1'], attributes={'name': 'i1'}, resources=RESOURCES)
    sleeper = other.create_job(IMAGE, ['sleep', '300'], attributes={'name': 'sleeper'}, resources=RESOURCES)
    b.submit(disable_progress_bar=True)
    step('groups: wait for the sleeper to run, then cancel its group')
    while sleeper.status()['state'] != 'Running':
        step('groups: sleeper not running yet')
        time.sleep(0.25)
    other.cancel()
    first = wait(b)
    step('groups: a later update adds a group under the outer one')
    later = outer.create_job_group(attributes={'name': 'later'})
    later.create_job(IMAGE, ['true'], attributes={'name': 'l1'}, resources=RESOURCES)
    b.submit(disable_progress_bar=True)
    final = wait(b)
    debug = b.debug_info()
    return {
        'batch_id': b.id,
        'ids': {'outer': outer.job_group_id, 'inner': inner.job_group_id, 'other': other.job_group_id,
                'later': later.job_group_id},
        'first': batch_summary(first),
        'final': batch_summary(final),
        'groups': {name: group_summary(g.status()) for name, g in
                   [('outer', outer), ('inner', inner), ('other', other), ('later', later)]},
        'top_level': [g.job_group_id for g in b.job_groups()],
        'under_outer': [g.job_group_id for g in outer.job_groups()],
        'outer_jobs': [j['job_id'] for j in outer.jobs(recursive=True)],
        'outer_own_jobs': [j['job_id'] for j in outer.jobs()],
        'debug_groups': len(debug['job_groups']),
    }


def env_scenario(client: BatchClient) -> Dict[str, Any]:
    step('env: submit')
    b = client.create_batch(attributes={'name': 'hail-client-env', 'run': RUN})
    j = b.create_job(IMAGE, ['sh', '-c', 'echo hello-from-env-config'], attributes={'name': 'env'},
                     resources=RESOURCES)
    b.submit(disable_progress_bar=True)
    status = wait(b)
    return {
        'batch_id': b.id,
        'url': client._async_client.url,
        'status': batch_summary(status),
        'jobs': [job_summary(client, b.id, j.job_id)],
        'main_log': j.container_log('main').decode('utf-8', 'replace'),
        'listed_ids': list_ids(client, f'run={RUN}'),
    }


def main() -> None:
    out: Dict[str, Any] = {'mode': MODE, 'run': RUN}
    if MODE == 'env':
        with BatchClient(BILLING_PROJECT) as client:
            out['env'] = env_scenario(client)
    else:
        with explicit_client() as client:
            step('meta')
            out['meta'] = {
                'cloud': client.cloud(),
                'default_region': client.default_region(),
                'supported_regions': client.supported_regions(),
            }
            out['dag'] = dag_scenario(client)
            out['failure'] = failure_scenario(client)
            out['cancel'] = cancel_scenario(client)
            step('listing')
            out['list'] = {
                'run': list_ids(client, f'run={RUN}'),
                'dag_by_name': list_ids(client, f'run={RUN} name=hail-client-dag'),
                'failed': list_ids(client, f'run={RUN} failure'),
                'default_first': [b.id for b in client.list_batches(limit=1)],
            }
            out['groups'] = groups_scenario(client)
    print(json.dumps(out), flush=True)


if __name__ == '__main__':
    main()
