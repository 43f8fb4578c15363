# Run in script mode (cmake -P) by the build, once the kernels have been compiled for every SIMD
# level. It turns each level's object files into one self-contained object and writes the
# trampolines that send every public call to the level chosen at load time.
#
# Why objects and not namespaces: the kernels use Eigen and the standard library, whose inline
# functions and templates every level instantiates under the same names (weak symbols in COMDAT
# groups). A linker keeps one copy of each, so the baseline could end up calling an AVX-512
# copy. Here each level is partially linked (`ld -r`), its COMDAT groups are dropped and every
# symbol it defines is made local, except the entry points, which get a per-level name. Each
# level then only ever calls its own code.
#
# Inputs (-D): LEVELS (list), OBJECT_LIST_<level> (file listing that level's objects), OUT_DIR,
# LINKER (ld), NM, OBJCOPY. Outputs in OUT_DIR: kernels_<level>.o and simd_trampolines.cpp.

foreach(var LEVELS OUT_DIR LINKER NM OBJCOPY)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "OptkernSimdLink: ${var} is not set")
  endif()
endforeach()
string(REPLACE "," ";" LEVELS "${LEVELS}")

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "OptkernSimdLink: `${cmd}` failed (${rc}):\n${out}${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

# 1. One relocatable object per level; the entry points are the text symbols it defines in
#    namespace optkern (functions, member functions, template instantiations).
set(common "")
set(first TRUE)
foreach(level ${LEVELS})
  file(STRINGS "${OBJECT_LIST_${level}}" objects)
  run("${LINKER}" -r -o "${OUT_DIR}/partial_${level}.o" ${objects})
  run("${NM}" --defined-only --extern-only --format=posix "${OUT_DIR}/partial_${level}.o")
  string(REPLACE "\n" ";" lines "${run_output}")
  set(entries "")
  foreach(line ${lines})
    if(line MATCHES "^(_ZN[KVRO]*7optkern[A-Za-z0-9_]*) [TW] ")
      list(APPEND entries "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  # An inline function may be emitted by one level and inlined away by another: only the
  # symbols every level defines can be dispatched (the others stay local to their level).
  if(first)
    set(common ${entries})
    set(first FALSE)
  else()
    set(kept "")
    foreach(symbol ${common})
      list(FIND entries "${symbol}" at)
      if(NOT at EQUAL -1)
        list(APPEND kept "${symbol}")
      endif()
    endforeach()
    set(common ${kept})
  endif()
endforeach()
list(REMOVE_DUPLICATES common)
list(SORT common)
list(LENGTH common count)
if(count EQUAL 0)
  message(FATAL_ERROR "OptkernSimdLink: no optkern entry point found in the kernel objects")
endif()

# 2. Per level: rename the entry points to <symbol>__okv_<level>, keep only those global, and
#    drop the COMDAT groups so that the final link cannot swap in another level's copy.
foreach(level ${LEVELS})
  set(renames "")
  set(keep "")
  foreach(symbol ${common})
    string(APPEND renames "${symbol} ${symbol}__okv_${level}\n")
    string(APPEND keep "${symbol}__okv_${level}\n")
  endforeach()
  file(WRITE "${OUT_DIR}/rename_${level}.txt" "${renames}")
  file(WRITE "${OUT_DIR}/keep_${level}.txt" "${keep}")
  run("${OBJCOPY}" --remove-section=.group
      "--redefine-syms=${OUT_DIR}/rename_${level}.txt"
      "--keep-global-symbols=${OUT_DIR}/keep_${level}.txt"
      "${OUT_DIR}/partial_${level}.o" "${OUT_DIR}/kernels_${level}.o")
endforeach()

# 3. The trampolines: each public symbol is one indirect jump through a table that
#    select_simd_variant() fills with one level's addresses. A jump (not a call) leaves no
#    frame, so arguments, return values and exceptions pass through untouched.
list(LENGTH LEVELS level_count)
set(asm "")
# Every section switch is pushed and popped, so the compiler's own idea of the current section
# stays right after this block.
string(APPEND asm "  .pushsection .data.rel,\"aw\"\n  .balign 8\n")
string(APPEND asm "  .globl optkern_simd_table\n  .hidden optkern_simd_table\noptkern_simd_table:\n")
list(GET LEVELS 0 baseline)
foreach(symbol ${common})
  string(APPEND asm "  .quad ${symbol}__okv_${baseline}\n")
endforeach()
string(APPEND asm "  .popsection\n  .pushsection .data.rel.ro,\"aw\"\n  .balign 8\n")
string(APPEND asm "  .globl optkern_simd_variants\n  .hidden optkern_simd_variants\n")
string(APPEND asm "optkern_simd_variants:\n")
foreach(level ${LEVELS})
  foreach(symbol ${common})
    string(APPEND asm "  .quad ${symbol}__okv_${level}\n")
  endforeach()
endforeach()
string(APPEND asm "  .popsection\n  .pushsection .text\n")
set(offset 0)
foreach(symbol ${common})
  string(APPEND asm "  .globl ${symbol}\n  .type ${symbol}, @function\n  .p2align 4\n")
  string(APPEND asm "${symbol}:\n  jmp *optkern_simd_table+${offset}(%rip)\n")
  string(APPEND asm "  .size ${symbol}, .-${symbol}\n")
  math(EXPR offset "${offset} + 8")
endforeach()
string(APPEND asm "  .popsection\n")

set(names "")
foreach(level ${LEVELS})
  string(APPEND names "\"${level}\", ")
endforeach()
file(WRITE "${OUT_DIR}/simd_trampolines.cpp.tmp" "\
// Generated by cmake/OptkernSimdLink.cmake: ${count} entry points, levels ${LEVELS}.
#include <cstring>

asm(R\"(
${asm})\");

extern \"C\" void* optkern_simd_table[];
extern \"C\" void* const optkern_simd_variants[];

namespace optkern::detail {

extern const char* const kSimdVariantNames[] = {${names}nullptr};
extern const int kSimdVariantCount = ${level_count};

void select_simd_variant(int variant) {
  std::memcpy(optkern_simd_table, optkern_simd_variants + variant * ${count},
              ${count} * sizeof(void*));
}

void init_simd();  // cpp/src/simd_dispatch.cpp

}  // namespace optkern::detail

namespace {
// Choose the level when the library is loaded, before the C++ static initialisers (priority
// 101). Defined here, in the object every caller pulls in, so that a static link keeps it.
__attribute__((constructor(101))) void optkern_choose_simd_level() {
  optkern::detail::init_simd();
}
}  // namespace
")
# Only touch the file when it changed, so that an unchanged symbol set recompiles nothing.
file(COPY_FILE "${OUT_DIR}/simd_trampolines.cpp.tmp" "${OUT_DIR}/simd_trampolines.cpp"
     ONLY_IF_DIFFERENT)
