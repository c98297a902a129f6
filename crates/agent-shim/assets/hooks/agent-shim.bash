# agent-shim hook for bash. Load it with: eval "$(agent-shim hook bash)"
# When AGENT_SHIM_TOKEN (exported by direnv from a directory's .envrc) changes, it tells
# agent-shim which directory the shell left and entered. It runs after direnv's hook, prints
# nothing, and never makes the prompt wait: the calls run in the background.

_agent_shim_hook() {
  local status=$?
  local new="${AGENT_SHIM_TOKEN-}" old="${_AGENT_SHIM_ACTIVE_TOKEN-}"
  if [[ "$new" != "$old" ]]; then
    _AGENT_SHIM_ACTIVE_TOKEN="$new"
    (
      if [[ -n "$old" ]]; then {{exe}} leave "$old"; fi
      if [[ -n "$new" ]]; then {{exe}} enter "$new" "${AGENT_SHIM_PROFILE-}"; fi
    ) >/dev/null 2>&1 </dev/null &
    disown $! 2>/dev/null || true
  fi
  return $status
}

_agent_shim_exit() {
  if [[ -n "${_AGENT_SHIM_ACTIVE_TOKEN-}" ]]; then
    {{exe}} leave "$_AGENT_SHIM_ACTIVE_TOKEN" >/dev/null 2>&1 </dev/null || true
  fi
}

# Appended, so it runs after direnv's hook (which direnv puts first).
if [[ ";${PROMPT_COMMAND-};" != *";_agent_shim_hook;"* ]]; then
  PROMPT_COMMAND="${PROMPT_COMMAND:+${PROMPT_COMMAND%;};}_agent_shim_hook"
fi
# Leave on exit, unless the user has an EXIT trap of their own.
if [[ -z "$(trap -p EXIT)" ]]; then
  trap _agent_shim_exit EXIT
fi
