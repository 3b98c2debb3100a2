"""
A test's own hands on Azure Blob Storage over HTTPS (Azurite with a certificate of the test's
CA, which this process trusts through connection_verify), signed with an account's shared key:
the tests set up and inspect containers this way. One call per run:

  azure_blobs.py mkcontainer <endpoint> <account> <key> <container>
  azure_blobs.py put <endpoint> <account> <key> <container> <name>     (the blob's data on stdin)
  azure_blobs.py get <endpoint> <account> <key> <container> <name>     (prints the data; exit 3 when absent)
  azure_blobs.py list <endpoint> <account> <key> <container> <prefix>  (one name per line)

<endpoint> is the account's blob endpoint with {account} in it (https://127.44.0.1/{account});
the CA's file is in AZURE_TEST_CA.
"""

import os
import sys

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient


def main() -> int:
    op, endpoint, account, key, container = sys.argv[1:6]
    rest = sys.argv[6:]
    service = BlobServiceClient(
        endpoint.replace('{account}', account),
        credential={'account_name': account, 'account_key': key},
        connection_verify=os.environ['AZURE_TEST_CA'],
    )
    c = service.get_container_client(container)
    if op == 'mkcontainer':
        try:
            c.create_container()
        except ResourceExistsError:
            pass
    elif op == 'put':
        c.upload_blob(rest[0], sys.stdin.buffer.read(), overwrite=True)
    elif op == 'get':
        try:
            sys.stdout.buffer.write(c.download_blob(rest[0]).readall())
        except ResourceNotFoundError:
            return 3
    elif op == 'list':
        for b in c.list_blobs(name_starts_with=rest[0] if rest else None):
            print(b.name)
    else:
        print(f'unknown op {op}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
