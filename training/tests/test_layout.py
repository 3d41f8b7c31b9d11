"""The package's layout rules: no import circles, each part imports only from the parts
above it in training/__init__.py's list, and every command of the entry point resolves
to a module with main(argv, prog)."""
import ast
import importlib
import inspect
import os
import unittest

PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the parts, top to bottom (training/__init__.py)
LEVEL = {"common": 0, "data": 0, "hvt": 0, "model": 1, "intref": 2, "export": 3, "stages": 4,
         "analyses": 5, "card": 5, "__main__": 6}


def modules():
    """{dotted name: set of training modules it imports}"""
    out = {}
    for d, _, files in os.walk(PKG):
        if os.path.basename(d) in ("tests", "__pycache__"):
            continue
        for f in files:
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(d, f), os.path.dirname(PKG))[:-3].replace(os.sep, ".")
            name = rel[:-len(".__init__")] if rel.endswith(".__init__") else rel
            deps = set()
            for n in ast.walk(ast.parse(open(os.path.join(d, f)).read())):
                if isinstance(n, ast.ImportFrom) and n.level:
                    raise AssertionError(f"{name}: relative import (from {'.' * n.level}"
                                         f"{n.module or ''}); the layout check reads absolute ones")
                if isinstance(n, ast.ImportFrom) and n.module and n.module.split(".")[0] == "training":
                    for a in n.names:
                        sub = f"{n.module}.{a.name}"
                        path = os.path.join(os.path.dirname(PKG), *sub.split(".")) + ".py"
                        deps.add(sub if os.path.exists(path) else n.module)
                elif isinstance(n, ast.Import):
                    deps |= {a.name for a in n.names if a.name.split(".")[0] == "training"}
            out[name] = deps - {name}
    return out


def part(name):
    return name.split(".")[1] if "." in name else None


class Layout(unittest.TestCase):
    def test_no_import_circles(self):
        g = modules()
        state = {}

        def visit(m, path):
            if state.get(m) == 1:
                self.fail("import circle: " + " -> ".join(path[path.index(m):] + [m]))
            if state.get(m) == 2:
                return
            state[m] = 1
            for d in sorted(g.get(m, ())):
                visit(d, path + [m])
            state[m] = 2
        for m in sorted(g):
            visit(m, [])

    def test_parts_import_only_from_above(self):
        for m, deps in modules().items():
            if part(m) is None:
                continue
            self.assertIn(part(m), LEVEL, f"{m}: a part training/__init__.py does not list")
            for d in deps:
                if part(d) is None or part(d) == part(m):
                    continue
                self.assertLessEqual(LEVEL[part(d)], LEVEL[part(m)], f"{m} imports {d}, a part below it")

    def test_every_command_has_a_main(self):
        from training.__main__ import COMMANDS
        for cmd, mod in COMMANDS.items():
            if mod is None:      # `all`: run_training.sh
                continue
            main = importlib.import_module(mod).main
            self.assertEqual(list(inspect.signature(main).parameters)[:2], ["argv", "prog"], cmd)


if __name__ == "__main__":
    unittest.main()
