// libsystemc.so refers to sc_main (its own main() calls it). Programs that link the
// simulator have their own main() and never call sc_main; this definition satisfies
// the reference. It is compiled into every program linking heatvit_sim (an INTERFACE
// source), because a static library member nothing refers to would not be linked.
extern "C" int sc_main(int, char**) { return 0; }
