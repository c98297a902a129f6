# agent-shim hook for zsh. Load it with: eval "$(agent-shim hook zsh)"
# When AGENT_SHIM_TOKEN (exported by direnv from a directory's .envrc) changes, it tells
# agent-shim which directory the shell left and entered. It runs after direnv's hook, prints
# nothing, and never makes the prompt wait: the calls run in the background.

_agent_shim_hook() {
  local new="${AGENT_SHIM_TOKEN-}" old="${_AGENT_SHIM_ACTIVE_TOKEN-}" profile="${AGENT_SHIM_PROFILE-}"
  if [[ "$new" != "$old" ]]; then
    typeset -g _AGENT_SHIM_ACTIVE_TOKEN="$new"
    {
      if [[ -n "$old" ]]; then {{exe}} leave "$old"; fi
      if [[ -n "$new" ]]; then {{exe}} enter "$new" "$profile"; fi
    } >/dev/null 2>&1 </dev/null &!
  fi
  return 0
}

_agent_shim_exit() {
  if [[ -n "${_AGENT_SHIM_ACTIVE_TOKEN-}" ]]; then
    {{exe}} leave "$_AGENT_SHIM_ACTIVE_TOKEN" >/dev/null 2>&1 </dev/null
  fi
  return 0
}

typeset -ag precmd_functions zshexit_functions
# Appended, so it runs after direnv's hook (which direnv puts first).
if (( ! ${precmd_functions[(I)_agent_shim_hook]} )); then
  precmd_functions+=(_agent_shim_hook)
fi
if (( ! ${zshexit_functions[(I)_agent_shim_exit]} )); then
  zshexit_functions+=(_agent_shim_exit)
fi

# Completions written by `agent-shim install` live outside zsh's default fpath.
typeset -g _agent_shim_site="${XDG_DATA_HOME:-$HOME/.local/share}/zsh/site-functions"
if [[ -d "$_agent_shim_site" ]] && (( ! ${fpath[(Ie)$_agent_shim_site]} )); then
  fpath=("$_agent_shim_site" $fpath)
fi
if (( $+functions[compdef] )) && [[ -r "$_agent_shim_site/_agent-shim" ]]; then
  autoload -Uz _agent-shim && compdef _agent-shim agent-shim
fi
unset _agent_shim_site
