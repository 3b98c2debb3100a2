"""
A scientist's pipeline through the unchanged `hailtop.batch` (PyPI package `hail`): a
ServiceBackend with a cloud remote_tmpdir, bash jobs passing files through resource files
(`b.read_input`, `j.ofile`, `b.write_output`), a fan-in and an explicit `depends_on`, then the
outputs read back with `hailtop.fs`. The client reaches the service from Hail's own
configuration (HAIL_* variables, a tokens file) and cloud storage with its own credentials.
Prints one JSON summary line on stdout for test/e2e/hail-pipeline-cloud.test.ts.

Environment:
  HB_BILLING_PROJECT  billing project
  HB_REMOTE_TMPDIR    the backend's remote_tmpdir (gs://... or https://<account>.blob.core.windows.net/...)
  HB_INPUT            a cloud URL of the input: one number per line
  HB_OUTPUT           a cloud URL prefix the outputs are written under
  HB_IMAGE            the jobs' image (it needs only a POSIX shell and awk)
"""

import json
import os

import hailtop.batch as hb
import hailtop.fs as hfs

BILLING_PROJECT = os.environ['HB_BILLING_PROJECT']
REMOTE_TMPDIR = os.environ['HB_REMOTE_TMPDIR']
INPUT = os.environ['HB_INPUT']
OUTPUT = os.environ['HB_OUTPUT'].rstrip('/')
IMAGE = os.environ['HB_IMAGE']

backend = hb.ServiceBackend(billing_project=BILLING_PROJECT, remote_tmpdir=REMOTE_TMPDIR)
b = hb.Batch(name='cloud-pipeline', backend=backend, default_image=IMAGE, default_shell='/bin/sh', default_cpu='0.25')

numbers = b.read_input(INPUT)

# Three partial sums of the input's lines, side by side.
parts = []
for i in range(3):
    j = b.new_job(name=f'part-{i}')
    j.memory('standard')
    j.command(f"awk 'NR % 3 == {i} {{ s += $1 }} END {{ print s + 0 }}' {numbers} > {j.ofile}")
    parts.append(j)

# The fan-in: one job reads all three partial results.
total = b.new_job(name='total')
total.command(f"cat {' '.join(str(p.ofile) for p in parts)} | awk '{{ s += $1 }} END {{ print s }}' > {total.ofile}")

report = b.new_job(name='report')
report.command(f'echo "lines=$(wc -l < {numbers}) total=$(cat {total.ofile})" > {report.ofile}')

# No file passes between these two: the order is the explicit dependency alone.
check = b.new_job(name='check')
check.depends_on(report)
check.command('echo checked')

b.write_output(total.ofile, f'{OUTPUT}/total.txt')
b.write_output(report.ofile, f'{OUTPUT}/report.txt')

run = b.run(wait=True, disable_progress_bar=True, delete_scratch_on_exit=False)
status = run.status()
jobs = [
    {'name': j.get('name'), 'state': j['state'], 'exit_code': j.get('exit_code')}
    for j in run.jobs()
]


def read(url: str) -> str:
    with hfs.open(url) as f:
        return f.read()


print(
    json.dumps(
        {
            'batch_id': run.id,
            'state': status['state'],
            'n_jobs': status['n_jobs'],
            'jobs': jobs,
            'total': read(f'{OUTPUT}/total.txt'),
            'report': read(f'{OUTPUT}/report.txt'),
        }
    )
)
