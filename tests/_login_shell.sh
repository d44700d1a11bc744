#!/bin/sh
# The login shell of the terminals test agents open ($SHELL of every agent tests/_harness.ts
# starts): bash without this machine's dotfiles. A developer's ~/.bashrc is no part of cmdop and
# made terminal tests fail at random: one here runs `pyenv init`, which waits up to 60 s on a lock
# that a shell killed mid-rehash (as tests kill them) leaves behind, so no prompt came in time.
exec /bin/bash --noprofile --norc "$@"
