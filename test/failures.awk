# Reads `bun test` output and prints one line per failed test and per
# unhandled error between tests, naming the test file bun was running, and
# each error with its first stack frame: bun may report an error thrown late
# by one file under the next file's header, and the frame names the real one.
# bun repeats the failed tests after "N tests failed:"; those are skipped.
/^bun test v/ { recap = 0; file = ""; next }
/^[0-9]+ tests? failed:$/ { recap = 1; next }
recap { next }
/^[^ ].*\.test\.(ts|tsx|js):$/ { file = substr($0, 1, length($0) - 1); next }
/# Unhandled error between tests/ { print "unhandled error between tests, while running " file; next }
/^error: / { err = $0; next }
err != "" && /^ +at / { sub(/^ +at /, ""); print "  " err "  [at " $0 "]"; err = ""; next }
/^\(fail\) / { print "fail: " file " > " substr($0, 8) }
