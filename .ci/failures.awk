# Prints what failed in a `go test -v` log: run as
# awk -f .ci/failures.awk LOG LOG   (the log twice: two passes).
# Pass 1 (NR==FNR): collect the names of failed tests.
NR == FNR {
  if (match($0, /--- FAIL: [^ ]+/)) { failed[substr($0, RSTART + 10, RLENGTH - 10)] = 1 }
  next
}
# Pass 2: print the output of each failed test and the FAIL lines with the
# indented messages under them; server log lines are left in the file.
/^=== (RUN|NAME|CONT|PAUSE)/ { cur = $3; show = (cur in failed); under = 0; next }
/^[ ]*--- (PASS|SKIP)/ { show = 0; under = 0; next }
/^[ ]*--- FAIL/ { print; under = 1; match($0, /^ */); depth = RLENGTH; next }
under && match($0, /^ */) && RLENGTH > depth { print; next }
{ under = 0 }
/^panic:|^FAIL$/ { print; next }
show && !/^\{"time":/ && !/^(ok|FAIL|\?) / { print }
