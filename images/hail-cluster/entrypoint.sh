#!/bin/bash
# Starts one cluster node. HB_NODE_ROLE=master runs the Spark standalone master and
# Jupyter; HB_NODE_ROLE=worker runs a Spark worker that joins HB_SPARK_MASTER.
set -euo pipefail
. /etc/profile.d/hail.sh
role="${HB_NODE_ROLE:?HB_NODE_ROLE unset}"
master="${HB_SPARK_MASTER:?HB_SPARK_MASTER unset}"
mkdir -p "$HAIL_HOME/tmp" /etc/spark
chown hail:hail "$HAIL_HOME" "$HAIL_HOME/tmp" || true
chmod 1777 "$HAIL_HOME/tmp"
# Java 17 closes JDK internals that Spark and Hail reach into.
opens="--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED --add-opens=java.base/sun.security.action=ALL-UNNAMED --add-opens=java.base/sun.util.calendar=ALL-UNNAMED"
cat >/etc/spark/spark-defaults.conf <<CONF
spark.master                     $master
spark.jars                       $HAIL_JAR
spark.driver.extraClassPath      $HAIL_JAR
spark.executor.extraClassPath    ./hail-all-spark.jar
spark.serializer                 org.apache.spark.serializer.KryoSerializer
spark.kryo.registrator           is.hail.kryo.HailKryoRegistrator
spark.driver.memory              ${HB_DRIVER_MEMORY:-768m}
spark.executor.memory            ${HB_EXECUTOR_MEMORY:-768m}
spark.driver.extraJavaOptions    $opens
spark.executor.extraJavaOptions  $opens
spark.ui.showConsoleProgress     false
CONF
export SPARK_NO_DAEMONIZE=1
# The master and worker daemons are small; the node's memory is for executors and drivers.
export SPARK_DAEMON_MEMORY=256m
# Spark, Jupyter and login shells all run as the application user, so files written to
# the shared tmp by executors can be renamed by the driver.
export HOME=/home/hail
host="$(hostname)"
# On a VM the service runs commands through the node's exec door (on the local cloud it uses
# `docker exec` and sets no token).
if [ -n "${HB_EXEC_TOKEN:-}" ]; then python3 /usr/local/lib/hail-node-exec.py & fi
case "$role" in
  master)
    # runuser keeps the environment (the token); bash -l adds the login profile.
    runuser -u hail -- bash -lc 'cd "$HAIL_HOME" && exec jupyter server --ip=0.0.0.0 --port=8888 --no-browser \
      --ServerApp.base_url="${HB_JUPYTER_BASE_URL:-/}" --IdentityProvider.token="$HB_JUPYTER_TOKEN" \
      --ServerApp.allow_remote_access=True --ServerApp.root_dir="$HAIL_HOME"' &
    exec runuser -u hail -- "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host "$host" --port 7077 --webui-port 8080
    ;;
  worker)
    exec runuser -u hail -- "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker "$master" \
      --host "$host" --cores "${HB_WORKER_CORES:-1}" --memory "${HB_WORKER_MEMORY:-1g}" --webui-port 8081 \
      --work-dir /home/hail/spark-work
    ;;
  *) echo "unknown HB_NODE_ROLE $role" >&2; exit 2 ;;
esac
