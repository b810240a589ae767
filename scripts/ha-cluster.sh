#!/usr/bin/env bash
# Starts a high-availability cluster on loopback, as a production install
# lays it out: a three-server ZooKeeper ensemble (Debian's `zookeeper`,
# installed if missing), three masters electing their leader through it
# (--zk, --quorum=2) and two agents that find the leader through it.
# Everything runs in the foreground; Ctrl-C stops it all.
#
#   ./scripts/ha-cluster.sh [--dir=/tmp/mesos-ha] [--base_port=5050]
#
# Masters listen on base_port, +2 and +4 (5050, 5052, 5054), agents on
# +1 and +3 (5051, 5053); ZooKeeper on 2181-2183 (peers on 2888-2890 and
# 3888-3890).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir=/tmp/mesos-ha
base=5050
for arg in "$@"; do
  case "$arg" in
    --dir=*) dir="${arg#--dir=}" ;;
    --base_port=*) base="${arg#--base_port=}" ;;
    *) echo "unknown argument '$arg' (expected --dir=... or --base_port=...)" >&2; exit 2 ;;
  esac
done

if [ ! -e /usr/share/java/zookeeper.jar ]; then
  echo "== installing Debian's zookeeper"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq zookeeper
fi
echo "== building the release binaries"
(cd "$root" && cargo build --release --workspace --bins --quiet)
bin="$root/target/release"

pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

mkdir -p "$dir"
zk_servers=""
for i in 1 2 3; do
  zdir="$dir/zk$i"
  mkdir -p "$zdir/data"
  echo "$i" > "$zdir/data/myid"
  cat > "$zdir/zoo.cfg" <<CFG
tickTime=500
initLimit=20
syncLimit=5
dataDir=$zdir/data
clientPort=$((2180 + i))
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok,stat
server.1=127.0.0.1:2888:3888
server.2=127.0.0.1:2889:3889
server.3=127.0.0.1:2890:3890
CFG
  java -Xmx512m -Dzookeeper.admin.enableServer=false -Dzookeeper.log.dir="$zdir" \
    -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$zdir/zoo.cfg" > "$zdir/server.log" 2>&1 &
  pids+=($!)
  zk_servers="${zk_servers:+$zk_servers,}127.0.0.1:$((2180 + i))"
done
zk="zk://$zk_servers/mesos"

echo "== waiting for ZooKeeper's quorum"
for i in 1 2 3; do
  for _ in $(seq 1 120); do
    if exec 3<>"/dev/tcp/127.0.0.1/$((2180 + i))" 2>/dev/null; then
      printf srvr >&3
      if grep -q "^Mode:" <&3; then exec 3>&-; break; fi
      exec 3>&-
    fi
    sleep 0.5
  done
done

for i in 0 1 2; do
  port=$((base + 2 * i))
  mkdir -p "$dir/master$i"
  "$bin/mesos-master" --ip=127.0.0.1 --port="$port" --zk="$zk" --quorum=2 \
    --work_dir="$dir/master$i" --log_dir="$dir/master$i" --cluster=ha-local \
    > "$dir/master$i/stderr" 2>&1 &
  pids+=($!)
done
for i in 0 1; do
  port=$((base + 1 + 2 * i))
  mkdir -p "$dir/agent$i"
  "$bin/mesos-agent" --master="$zk" --ip=127.0.0.1 --port="$port" \
    --work_dir="$dir/agent$i" --log_dir="$dir/agent$i" \
    > "$dir/agent$i/stderr" 2>&1 &
  pids+=($!)
done

cat <<TXT

HA cluster up (files under $dir):
  ZooKeeper  $zk_servers
  masters    127.0.0.1:$base  127.0.0.1:$((base + 2))  127.0.0.1:$((base + 4))   (--zk=$zk --quorum=2)
  agents     127.0.0.1:$((base + 1))  127.0.0.1:$((base + 3))   (--master=$zk)
  leader     curl -sI http://127.0.0.1:$base/master/redirect   (Location: //<leader>)
  try        $bin/mesos-execute --master=$zk --name=hello --command='echo hello'
Kill the leader (kill -9 <pid>, pids: pgrep -f 'mesos-master --ip=127.0.0.1') and another takes over.
Ctrl-C stops everything.
TXT
# Runs until Ctrl-C. Killing a master (try the leader) leaves the others:
# one of them takes over, agents and frameworks follow.
wait
