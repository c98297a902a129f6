# agent-shim hook for fish. Load it with: agent-shim hook fish | source
# When AGENT_SHIM_TOKEN (exported by direnv from a directory's .envrc) changes, it tells
# agent-shim which directory the shell left and entered. It runs at the prompt and before each
# command, after direnv has exported all of a directory's variables (reacting to the variable
# itself would run before direnv sets AGENT_SHIM_PROFILE: direnv's order varies). It prints
# nothing and never makes the prompt wait: the calls run in the background.

function __agent_shim_sync --on-event fish_prompt --on-event fish_preexec
    set -l new "$AGENT_SHIM_TOKEN"
    set -l old "$__agent_shim_active_token"
    if test "$new" != "$old"
        set -g __agent_shim_active_token "$new"
        command sh -c 'if [ -n "$2" ]; then "$1" leave "$2"; fi; if [ -n "$3" ]; then "$1" enter "$3" "$4"; fi' \
            agent-shim {{exe}} "$old" "$new" "$AGENT_SHIM_PROFILE" >/dev/null 2>&1 </dev/null &
        disown 2>/dev/null
    end
end

function __agent_shim_exit --on-event fish_exit
    if test -n "$__agent_shim_active_token"
        command {{exe}} leave "$__agent_shim_active_token" >/dev/null 2>&1 </dev/null
    end
end
