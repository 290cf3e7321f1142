#!/usr/bin/python3
"""Starts PROGRAM ARGS... as the ranks of one node under torch's elastic agent, the agent
behind torchrun, as

    torchrun --no-python --nnodes NNODES --node-rank NODE_RANK --nproc-per-node NPROC \
        --rdzv-backend static --master-addr 127.0.0.1 --master-port PORT PROGRAM ARGS...

would. Debian 12's torchrun script stops at start under its Python 3.11 (in Std.from_str);
the agent it would run is this one. Usage: elastic_launch.py NNODES NODE_RANK NPROC PORT PROGRAM ARGS...
"""
import inspect
import sys

from torch.distributed.elastic.multiprocessing import Std
from torch.distributed.launcher.api import LaunchConfig, elastic_launch


def main():
    nnodes, node_rank, nproc, port = (int(a) for a in sys.argv[1:5])
    program, arguments = sys.argv[5], sys.argv[6:]
    config = LaunchConfig(
        min_nodes=nnodes,
        max_nodes=nnodes,
        nproc_per_node=nproc,
        run_id="headcount",
        rdzv_backend="static",
        rdzv_endpoint=f"127.0.0.1:{port}",
        rdzv_configs={"rank": node_rank},
        max_restarts=0,
        monitor_interval=0.2,
        # The ranks' output to the agent's own: torch 1.x names it here, 2.3 on in logs_specs,
        # whose default (DefaultLogsSpecs) already does this.
        **({"redirects": Std.NONE, "tee": Std.NONE} if "redirects" in inspect.signature(LaunchConfig).parameters else {}),
    )
    elastic_launch(config, entrypoint=program)(*arguments)


if __name__ == "__main__":
    main()
