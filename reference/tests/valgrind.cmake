# Run each test binary under valgrind memcheck; fail on any error or leak.
#
# Criterion 2.4.1 has no --no-fork: each test runs in a re-executed child,
# so valgrind follows children (--trace-children=yes).  A child's
# --error-exitcode does not reach the parent's exit status (Criterion does
# not count it), so each process writes its own log, which --quiet leaves
# empty unless valgrind found something: any non-empty log fails the test.
set(logdir ${CMAKE_CURRENT_BINARY_DIR}/valgrind-logs)
file(REMOVE_RECURSE ${logdir})
file(MAKE_DIRECTORY ${logdir})
foreach(t ${TESTS})
  get_filename_component(name ${t} NAME)
  execute_process(
    COMMAND ${VALGRIND} --quiet --trace-children=yes --leak-check=full
            --show-leak-kinds=definite,indirect,possible
            --errors-for-leak-kinds=definite,indirect,possible
            --error-exitcode=99 --log-file=${logdir}/${name}.%p.log
            ${t} --jobs 1 --timeout 120
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "valgrind: ${t} exited with ${rc}")
  endif()
endforeach()
file(GLOB logs ${logdir}/*.log)
set(bad 0)
foreach(log ${logs})
  file(SIZE ${log} size)
  if(size GREATER 0)
    file(READ ${log} text)
    message("---- ${log}\n${text}")
    set(bad 1)
  endif()
endforeach()
if(bad)
  message(FATAL_ERROR "valgrind found errors (logs above, in ${logdir})")
endif()
list(LENGTH logs n)
message(STATUS "valgrind: ${n} processes, no errors, no leaks")
