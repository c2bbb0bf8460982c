"""The import graph of segtools/: no cycle, and no layer importing one above it.

Read statically from the source (every ``import`` and ``from ... import``, at module level or
inside a function, outside ``if TYPE_CHECKING:`` blocks), so a lazy import that closes a loop
counts as one. The layers are those of the architecture notes (shared/ARCHITECTURE.md):
``registry`` imports nothing of segtools; ``ops`` only itself; ``weights`` never ``models``,
``apis`` or ``engine``; ``datasets`` and ``evaluation`` never ``models``; nothing imports
``tools``.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'segtools'

# Layer (module prefix) -> prefixes it must not import.
FORBIDDEN = {
    'segtools.registry': ('segtools.',),
    'segtools.constants': ('segtools.',),
    'segtools.palettes': ('segtools.',),
    'segtools.errors': ('segtools.',),
    'segtools.ops': (
        'segtools.models',
        'segtools.datasets',
        'segtools.evaluation',
        'segtools.engine',
        'segtools.apis',
        'segtools.utils',
        'segtools.weights',
        'segtools.visualization',
    ),
    'segtools.weights': ('segtools.models', 'segtools.apis', 'segtools.engine', 'segtools.datasets'),
    'segtools.datasets': ('segtools.models', 'segtools.apis', 'segtools.engine', 'segtools.weights'),
    'segtools.evaluation': ('segtools.models', 'segtools.apis', 'segtools.engine', 'segtools.weights'),
    'segtools.structures': ('segtools.models', 'segtools.datasets', 'segtools.apis', 'segtools.engine'),
    'segtools.visualization': ('segtools.models', 'segtools.apis', 'segtools.datasets'),
}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, 'test', None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING')
        or (isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING')
    )


def imported_names(path: Path, modules: set[str], root: Path = PACKAGE) -> set[str]:
    """segtools modules ``path`` imports (a ``from a import b`` names ``a.b`` when that is a module)."""
    name = module_name(path, root)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()

    def visit(node: ast.AST) -> None:
        if is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')
                base = base[: len(base) - node.level + 1]
                source = '.'.join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ''
            targets = [f'{source}.{alias.name}' for alias in node.names]
            found.update(t for t in targets if t in modules)
            if not all(t in modules for t in targets):
                found.add(source)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return {m for m in found if m == 'segtools' or m.startswith('segtools.')} - {name}


@pytest.fixture(scope='module')
def graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob('*.py'))
    modules = {module_name(p) for p in paths}
    edges = {module_name(p): imported_names(p, modules) & modules for p in paths}
    assert len(edges) > 100, 'no segtools modules found'
    return edges


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_cycle(graph):
    # A package __init__ that imports its own submodules is not a cycle by itself; a submodule
    # importing its package's __init__ back (``from segtools.models import X`` inside models/) is.
    cycles = strongly_connected(graph)
    assert not cycles, 'import cycles in segtools/:\n' + '\n'.join(' <-> '.join(c) for c in cycles)


def test_no_upward_import(graph):
    wrong = []
    for module, imports in sorted(graph.items()):
        for layer, forbidden in FORBIDDEN.items():
            if module == layer or module.startswith(layer + '.'):
                wrong += [f'{module} imports {target}' for target in sorted(imports) if target.startswith(forbidden)]
    assert not wrong, 'imports against the layering:\n' + '\n'.join(wrong)


def test_the_graph_sees_lazy_and_relative_imports(tmp_path):
    """The reader itself: a function-level relative import is an edge; TYPE_CHECKING is not."""
    package = tmp_path / 'segtools'
    (package / 'a').mkdir(parents=True)
    for init in (package / '__init__.py', package / 'a' / '__init__.py'):
        init.write_text('')
    (package / 'a' / 'x.py').write_text(
        'from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import z\n'
        'def f():\n    from .y import g\n    from segtools import b\n'
    )
    for name in ('y.py', 'z.py'):
        (package / 'a' / name).write_text('')
    (package / 'b.py').write_text('import segtools.a.x\n')
    modules = {module_name(p, package) for p in package.rglob('*.py')}
    assert imported_names(package / 'a' / 'x.py', modules, package) == {'segtools.a.y', 'segtools.b'}
    graph = {module_name(p, package): imported_names(p, modules, package) for p in package.rglob('*.py')}
    assert strongly_connected(graph) == [['segtools.a.x', 'segtools.b']]
