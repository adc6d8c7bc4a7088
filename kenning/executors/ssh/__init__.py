"""Steps on a board over SSH (paramiko): the executor and what a board session offers.

:mod:`~kenning.executors.ssh.executor` is the executor; beside it, each one concern of a
session: where a board is (``target``), connecting and converting paramiko's errors
(``connect``), one command under a deadline (``channel``), files over SFTP (``files``),
processes and their shell snippets (``process``), processes that die with the session
(``watch``), ports and tunnels (``tunnel``) and the board session built of these
(``board``). Imports :mod:`kenning.executors`' base and errors, never the other executors.
"""
