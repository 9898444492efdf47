# Sourced by the scripts that run a real load test on this machine: serves DIR over HTTP on a free
# port of 127.0.0.1 and waits until it answers. Sets `port` and `server` (its PID); the caller
# kills it on exit.
start_target_server() {
  local dir=$1
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  python3 -m http.server "$port" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 &
  server=$!
  for _ in $(seq 100); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/')" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "The target server on 127.0.0.1:$port did not answer" >&2
  return 1
}
