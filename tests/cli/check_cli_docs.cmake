# docs/CLI.md's reference section must be exactly what `atrous help --markdown` prints from the
# CLI11 definitions that parse the command line. Run by CTest:
#   cmake -DATROUS=path/to/atrous -DDOC=docs/CLI.md -P tests/cli/check_cli_docs.cmake
# To refresh the file after changing an option: scripts/update_cli_docs.sh.
execute_process(COMMAND ${ATROUS} help --markdown OUTPUT_VARIABLE generated RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "atrous help --markdown failed (exit ${rc})")
endif()
file(READ ${DOC} doc)
set(begin_marker "<!-- BEGIN GENERATED: atrous help --markdown -->\n")
set(end_marker "<!-- END GENERATED -->")
string(FIND "${doc}" "${begin_marker}" begin)
string(FIND "${doc}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
  message(FATAL_ERROR "${DOC}: the generated-section markers are missing")
endif()
string(LENGTH "${begin_marker}" begin_length)
math(EXPR start "${begin} + ${begin_length}")
math(EXPR length "${end} - ${start}")
string(SUBSTRING "${doc}" ${start} ${length} section)
if(NOT section STREQUAL generated)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/cli_reference.md "${generated}")
  message(FATAL_ERROR "${DOC}: the reference section differs from `atrous help --markdown` "
                      "(its output is in ${CMAKE_CURRENT_BINARY_DIR}/cli_reference.md; "
                      "run scripts/update_cli_docs.sh)")
endif()
