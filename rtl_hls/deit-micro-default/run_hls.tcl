# Vitis HLS Tcl flow: vitis-run --mode hls --tcl run_hls.tcl (or vitis_hls -f run_hls.tcl
# before 2024.2). Steps: set HEATVIT_STEPS to a subset of "csim csynth cosim export".
set steps {csim csynth cosim export}
if {[info exists ::env(HEATVIT_STEPS)]} { set steps $::env(HEATVIT_STEPS) }
set flags "-std=c++17 -DHEATVIT_USE_AP_INT -I[pwd]/firmware"
open_project -reset heatvit_prj
set_top heatvit_top
add_files firmware/heatvit_top.cpp -cflags $flags
add_files -tb tb/heatvit_tb.cpp -cflags $flags
add_files -tb tb_data
open_solution -reset solution1 -flow_target vivado
set_part xczu9eg-ffvb1156-2-e
create_clock -period 3.333 -name default
set_clock_uncertainty 12.5%
if {[lsearch $steps csim] >= 0} { csim_design -argv tb_data }
if {[lsearch $steps csynth] >= 0} { csynth_design }
if {[lsearch $steps cosim] >= 0} { cosim_design -argv tb_data }
if {[lsearch $steps export] >= 0} { export_design -format ip_catalog }
exit
