"""An example crosswind.rpc service: a small job bookkeeping service.

Serve it over TLS, asking clients for a certificate signed by ``ca.pem``::

    python examples/rpc_service.py --cert server.pem --key server-key.pem \\
        --client-ca ca.pem --users users.json

where ``users.json`` maps certificate DNs to users::

    {"/O=Example Grid/OU=Users/CN=Alice": {"username": "alice", "group": "users"},
     "/O=Example Grid/OU=Users/CN=Root": {"username": "root", "group": "admins"}}

Set ``JOBSTORE_JWT_SECRET`` (at least 32 characters) to accept HS256 bearer
tokens whose audience is ``JobStore`` as well.  Then, from Python::

    from crosswind.rpc import Client

    with Client("https://127.0.0.1:8443/WorkloadManagement/JobStore",
                cert="alice.pem", ca_file="ca.pem") as jobs:
        job = jobs.submit("echo hello", 2)["Value"]
        print(jobs.status(job), jobs.whoami())
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
from collections.abc import Sequence
from typing import Any

from crosswind.rpc import S_ERROR, S_OK, JWTKey, Service, rpc_application
from crosswind.web import Application

__all__ = ["JobStoreHandler", "main", "make_app"]


class JobStoreHandler(Service):
    """Submit jobs, follow them, and let their owners or administrators kill them."""

    BASE_URL = "/WorkloadManagement"
    DEFAULT_AUTHORIZATION = ["authenticated"]

    jobs: dict[int, dict[str, Any]]
    max_jobs_per_user: int

    @classmethod
    def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:
        # Class-wide state lives as long as the server; a real service would
        # open its database connection pool here.
        cls.jobs = {}
        cls.max_jobs_per_user = int(serviceInfoDict.get("maxJobsPerUser", 100))

    types_submit = [str, int]

    def export_submit(self, command: str, priority: int = 1) -> dict[str, Any]:
        """Queue *command*; returns the job id."""
        owner = self._owner()
        if not command.strip():
            return S_ERROR("the command is empty")
        if sum(job["owner"] == owner for job in self.jobs.values()) >= self.max_jobs_per_user:
            return S_ERROR(f"{owner} already has {self.max_jobs_per_user} jobs")
        job_id = max(self.jobs, default=0) + 1
        self.jobs[job_id] = {
            "owner": owner,
            "command": command,
            "priority": priority,
            "status": "Waiting",
        }
        return S_OK(job_id)

    types_status = [int]

    def export_status(self, job_id: int) -> dict[str, Any]:
        """The status of one job."""
        job = self.jobs.get(job_id)
        return S_OK(job["status"]) if job else S_ERROR(f"no job {job_id}")

    auth_listJobs = ["all"]

    async def export_listJobs(self) -> dict[str, Any]:
        """Every job's id, owner and status (readable by anyone)."""
        return S_OK(
            [
                {"id": job_id, "owner": job["owner"], "status": job["status"]}
                for job_id, job in sorted(self.jobs.items())
            ]
        )

    types_kill = [int]

    def export_kill(self, job_id: int) -> dict[str, Any]:
        """Kill a job: its owner or a JobAdministrator may."""
        job = self.jobs.get(job_id)
        if job is None:
            return S_ERROR(f"no job {job_id}")
        properties = self.credentials["properties"] if self.credentials else []
        if job["owner"] != self._owner() and "JobAdministrator" not in properties:
            return S_ERROR(f"job {job_id} belongs to someone else")
        job["status"] = "Killed"
        return S_OK()

    auth_purge = ["JobAdministrator"]

    def export_purge(self) -> dict[str, Any]:
        """Forget every finished or killed job (administrators only)."""
        finished = [i for i, job in self.jobs.items() if job["status"] in ("Done", "Killed")]
        for job_id in finished:
            del self.jobs[job_id]
        return S_OK(len(finished))

    def _owner(self) -> str:
        assert self.credentials is not None and self.credentials["username"]
        return self.credentials["username"]


def make_app(
    users: dict[str, Any] | None = None,
    jwt_secret: str | None = None,
    **settings: Any,
) -> Application:
    """The application serving :class:`JobStoreHandler`.

    :param users: certificate DN -> ``{"username", "group", "properties"}``.
    :param jwt_secret: enables HS256 bearer tokens for the ``JobStore`` audience.
    :param settings: further application settings (``clock``, ...).
    """
    if jwt_secret:
        settings["rpc_jwt_keys"] = [JWTKey("HS256", jwt_secret)]
        settings["rpc_jwt_audience"] = JobStoreHandler.service_name()
    return rpc_application(
        [JobStoreHandler],
        service_info={"maxJobsPerUser": 10},
        rpc_users=users or {},
        rpc_groups={"admins": ["JobAdministrator"]},
        **settings,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted.

    :param argv: the arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443)
    parser.add_argument("--backend", default="asyncio", choices=["asyncio", "trio", "threads"])
    parser.add_argument("--cert", required=True, help="the server's certificate (PEM)")
    parser.add_argument("--key", help="the server's private key (PEM), if not in --cert")
    parser.add_argument("--client-ca", help="CA file whose client certificates are accepted")
    parser.add_argument("--users", help="JSON file mapping certificate DNs to users")
    args = parser.parse_args(argv)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    if args.client_ca:
        context.load_verify_locations(args.client_ca)
        # Optional, not required: token holders and anonymous readers connect too.
        context.verify_mode = ssl.CERT_OPTIONAL
    users = {}
    if args.users:
        with open(args.users, encoding="utf-8") as file:
            users = json.load(file)
    app = make_app(users, os.environ.get("JOBSTORE_JWT_SECRET"))
    app.listen(args.port, args.host, backend=args.backend, ssl_context=context)


if __name__ == "__main__":
    main()
