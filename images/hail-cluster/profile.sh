# Login environment of every cluster node (/etc/profile.d/hail.sh): a login shell, Jupyter
# and non-interactive scripts see the same Spark and Hail setup.
export HAIL_HOME="${HAIL_HOME:-/hail}"
export HAIL_VENV=/opt/hail-venv
export PATH="$HAIL_VENV/bin:$PATH"
export SPARK_HOME="$HAIL_VENV/lib/python3.11/site-packages/pyspark"
export SPARK_CONF_DIR=/etc/spark
export PYSPARK_PYTHON="$HAIL_VENV/bin/python3"
export PYSPARK_DRIVER_PYTHON="$HAIL_VENV/bin/python3"
export JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
[ -d "$JAVA_HOME" ] || JAVA_HOME="$(dirname "$(dirname "$(readlink -f /usr/bin/java)")")"
export HAIL_JAR="$HAIL_VENV/lib/python3.11/site-packages/hail/backend/hail-all-spark.jar"
# `pyspark` opens a shell on the cluster's master with Hail's jar (spark-defaults.conf). `-i`:
# commands piped in (`echo … | pyspark`, over ssh) run in the shell, with `sc` and `spark`
# defined as at a prompt; without it Python skips the shell's start-up for piped input.
export PYSPARK_DRIVER_PYTHON_OPTS="-i"
alias pyspark="$SPARK_HOME/bin/pyspark"
