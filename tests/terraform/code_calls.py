"""The AWS calls a Lambda handler or a worker really makes, read from the code, as IAM actions.

Starting from lambdas/<folder>/handler.py (or workers/<kind>/main.py), follow what the code
reaches inside manga2video/ and workers/: functions by name, methods through the types the
code declares (parameter and property annotations, constructor calls, `self`), and module
bodies through imports. Over everything reached, the service names given to
`.client("x")` / `.resource("x")` and the methods called on any object are matched against
botocore's service models: a called method that is an operation of a reached service is a
call of that operation. Operations then become IAM actions (prefix and name exceptions below).

Run `python -m tests.terraform.code_calls` to print the lists terraform/ grants.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import botocore.session
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("manga2video", "workers")
LAMBDAS_DIR = ROOT / "lambdas"
WORKER_KINDS = ("renderer", "uploader")
CONFIG_MODULE = "manga2video.config"

# IAM service prefixes that differ from the API's endpoint prefix.
IAM_PREFIX = {"cloudwatch": "cloudwatch"}
# Operations IAM authorizes under another action's name.
IAM_ACTION = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:DeleteObjects": "s3:DeleteObject",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "ssm:GetParameters": "ssm:GetParameter",
}
# boto3's helpers that are no operation of the model, and the operations they make.
HELPER_OPERATIONS = {
    "s3": {
        "upload_file": ("PutObject",),
        "upload_fileobj": ("PutObject",),
        "download_file": ("GetObject",),
        "download_fileobj": ("GetObject",),
    },
    "dynamodb": {"batch_writer": ("BatchWriteItem",)},
}
# A transaction is authorized per item, under the item's own action.
TRANSACTION_ITEMS = {
    "Update": "dynamodb:UpdateItem",
    "Put": "dynamodb:PutItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
TRANSACTION_OPERATIONS = {"transact_write_items", "transact_get_items"}
# Actions AWS checks on the caller's behalf when an action runs against our configuration:
# SSE-KMS objects, SecureString parameters, the KMS-encrypted alert topic, a launch template
# that passes the worker role and tags on create. Reading an object also needs s3:ListBucket,
# or a missing key answers 403 instead of 404 and code that checks for absence breaks.
IMPLIED_ACTIONS = {
    "s3:GetObject": ("kms:Decrypt", "s3:ListBucket"),
    "s3:PutObject": ("kms:GenerateDataKey", "kms:Decrypt"),
    "ssm:GetParameter": ("kms:Decrypt",),
    "sns:Publish": ("kms:GenerateDataKey", "kms:Decrypt"),
    "ec2:RunInstances": ("iam:PassRole", "ec2:CreateTags"),
}
PROPERTY_DECORATORS = {"property", "cached_property"}


@cache
def _botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def operations_of(service: str) -> dict[str, str]:
    """snake_case method name -> operation name, for one boto3 service."""
    model = _botocore_session().get_service_model(service)
    operations = {xform_name(name): name for name in model.operation_names}
    operations.update({helper: "+".join(ops) for helper, ops in HELPER_OPERATIONS.get(service, {}).items()})
    return operations


@cache
def iam_prefix(service: str) -> str:
    return IAM_PREFIX.get(service) or _botocore_session().get_service_model(service).endpoint_prefix


def iam_actions(service: str, operation: str) -> set[str]:
    actions = set()
    for name in operation.split("+"):
        action = f"{iam_prefix(service)}:{name}"
        actions.add(IAM_ACTION.get(action, action))
    return actions


# --- the code index --------------------------------------------------------------------------------
@dataclass
class ClassInfo:
    module: str
    name: str
    node: ast.ClassDef
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    properties: set[str] = field(default_factory=set)
    attribute_annotations: dict[str, ast.expr] = field(default_factory=dict)
    bases: list[ast.expr] = field(default_factory=list)


@dataclass
class ModuleInfo:
    name: str
    path: Path
    tree: ast.Module
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    imports: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # alias -> (module, name | None)
    variables: dict[str, ast.expr] = field(default_factory=dict)  # module-level name -> value


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def _module_info(name: str, path: Path, is_package: bool) -> ModuleInfo:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    info = ModuleInfo(name=name, path=path, tree=tree)
    package = name if is_package else name.rpartition(".")[0]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            info.functions[node.name] = node
        elif isinstance(node, ast.ClassDef):
            info.classes[node.name] = _class_info(name, node)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    info.variables[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            info.variables[node.target.id] = node.value or node.annotation
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    info.imports[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    info.imports[top] = (top, None)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                info.imports[alias.asname or alias.name] = (base, alias.name)
    return info


def _class_info(module: str, node: ast.ClassDef) -> ClassInfo:
    info = ClassInfo(module=module, name=node.name, node=node, bases=list(node.bases))
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            info.methods[item.name] = item
            if _decorator_names(item) & PROPERTY_DECORATORS:
                info.properties.add(item.name)
                if item.returns is not None:
                    info.attribute_annotations[item.name] = item.returns
        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
            info.attribute_annotations[item.target.id] = item.annotation
    init = info.methods.get("__init__")
    if init is not None:
        parameters = {arg.arg: arg.annotation for arg in init.args.args + init.args.kwonlyargs if arg.annotation}
        for statement in ast.walk(init):
            target, value = None, None
            if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
                target, value = statement.targets[0], statement.value
            elif isinstance(statement, ast.AnnAssign):
                target, value = statement.target, statement.annotation
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "self"
                and target.attr not in info.attribute_annotations
            ):
                if isinstance(value, ast.Name) and value.id in parameters:
                    info.attribute_annotations[target.attr] = parameters[value.id]
                elif value is not None:
                    info.attribute_annotations[target.attr] = value
    return info


class CodeIndex:
    """Every module of the packages the Lambda zips and the worker AMI carry."""

    def __init__(self, root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> None:
        self.root = root
        self.modules: dict[str, ModuleInfo] = {}
        for package in packages:
            for path in sorted((root / package).rglob("*.py")):
                parts = path.relative_to(root).with_suffix("").parts
                is_package = parts[-1] == "__init__"
                name = ".".join(parts[:-1] if is_package else parts)
                self.modules[name] = _module_info(name, path, is_package)

    def add_entry_module(self, name: str, path: Path) -> ModuleInfo:
        info = _module_info(name, path, is_package=False)
        self.modules[name] = info
        return info

    # --- names ---------------------------------------------------------------------------------------
    def resolve(self, module: str, name: str, depth: int = 0) -> tuple[str, ...] | None:
        """What `name` means at the top level of `module`: ("function"|"class", module, name) or ("module", m)."""
        info = self.modules.get(module)
        if info is None or depth > 20:
            return None
        if name in info.functions:
            return ("function", module, name)
        if name in info.classes:
            return ("class", module, name)
        if name in info.variables:
            return ("variable", module, name)
        if name in info.imports:
            target_module, symbol = info.imports[name]
            if symbol is None:
                return ("module", target_module) if self._known_module(target_module) else None
            if f"{target_module}.{symbol}" in self.modules:
                return ("module", f"{target_module}.{symbol}")
            return self.resolve(target_module, symbol, depth + 1)
        return None

    def _known_module(self, name: str) -> bool:
        return any(module == name or module.startswith(name + ".") for module in self.modules)

    def class_info(self, key: tuple[str, str]) -> ClassInfo | None:
        module = self.modules.get(key[0])
        return module.classes.get(key[1]) if module else None

    def lineage(self, key: tuple[str, str]) -> Iterator[ClassInfo]:
        """The class and its bases inside the index, nearest first."""
        seen: set[tuple[str, str]] = set()
        pending = [key]
        while pending:
            current = pending.pop(0)
            info = self.class_info(current)
            if info is None or current in seen:
                continue
            seen.add(current)
            yield info
            for base in info.bases:
                resolved = self.class_of_expression(info.module, base)
                if resolved:
                    pending.append(resolved)

    def class_of_expression(self, module: str, node: ast.expr | None) -> tuple[str, str] | None:
        """The class an annotation or a class reference names (X, mod.X, "X", X | None, Optional[X])."""
        if node is None:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                return self.class_of_expression(module, ast.parse(node.value, mode="eval").body)
            except SyntaxError:
                return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self.class_of_expression(module, node.left) or self.class_of_expression(module, node.right)
        if isinstance(node, ast.Subscript):
            return self.class_of_expression(module, node.slice)
        resolved = self.resolve_expression(module, node)
        if resolved and resolved[0] == "class":
            return (resolved[1], resolved[2])
        return None

    def resolve_expression(self, module: str, node: ast.expr) -> tuple[str, ...] | None:
        """A Name or a module attribute chain (pkg.mod.name) to what it names in the index."""
        if isinstance(node, ast.Name):
            return self.resolve(module, node.id)
        if isinstance(node, ast.Attribute):
            base = self.resolve_expression(module, node.value)
            if base and base[0] == "module":
                if f"{base[1]}.{node.attr}" in self.modules:
                    return ("module", f"{base[1]}.{node.attr}")
                return self.resolve(base[1], node.attr)
        return None


# --- reaching the code -------------------------------------------------------------------------------------
Unit = tuple[str, str]  # (module, "function" | "Class.method" | "<module>")


@dataclass
class Reach:
    """What the reached code names: services, called method names, paginated operations, transaction items."""

    units: set[Unit] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)
    called: set[str] = field(default_factory=set)
    transaction_items: set[str] = field(default_factory=set)


class Walker:
    def __init__(self, index: CodeIndex) -> None:
        self.index = index
        self.reach = Reach()
        self._pending: list[Unit] = []

    def run(self, entry_module: str) -> Reach:
        self._add((entry_module, "<module>"))
        while self._pending:
            self._visit(self._pending.pop())
        return self.reach

    def _add(self, unit: Unit) -> None:
        if unit not in self.reach.units:
            self.reach.units.add(unit)
            self._pending.append(unit)

    def _add_resolved(self, resolved: tuple[str, ...] | None) -> None:
        if not resolved:
            return
        kind = resolved[0]
        if kind == "function":
            self._add((resolved[1], resolved[2]))
            self._add((resolved[1], "<module>"))
        elif kind == "class":
            self._add((resolved[1], "<module>"))
            for name in ("__init__", "__post_init__"):
                self._add_method((resolved[1], resolved[2]), name)
        elif kind == "module" or kind == "variable":
            self._add((resolved[1], "<module>"))

    def _add_method(self, cls: tuple[str, str], name: str) -> bool:
        for info in self.index.lineage(cls):
            if name in info.methods:
                self._add((info.module, f"{info.name}.{name}"))
                return True
        return False

    def _node_of(self, unit: Unit) -> tuple[ast.AST, ClassInfo | None] | None:
        module = self.index.modules.get(unit[0])
        if module is None:
            return None
        if unit[1] == "<module>":
            body = [node for node in module.tree.body if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
            return ast.Module(body=[node for node in body if not isinstance(node, ast.ClassDef)], type_ignores=[]), None
        if "." in unit[1]:
            class_name, method = unit[1].split(".", 1)
            info = module.classes[class_name]
            return info.methods[method], info
        return module.functions[unit[1]], None

    def _visit(self, unit: Unit) -> None:
        found = self._node_of(unit)
        if found is None:
            return
        node, owner = found
        module = unit[0]
        types = self._local_types(module, node, owner)
        if unit[1] == "<module>":
            info = self.index.modules[module]
            for alias, (target, symbol) in info.imports.items():
                self._add_resolved(self.index.resolve(module, alias) if symbol is None else None)
                if symbol is not None and f"{target}.{symbol}" in self.index.modules:
                    self._add((f"{target}.{symbol}", "<module>"))
                elif symbol is not None and target in self.index.modules:
                    self._add((target, "<module>"))
            for cls in info.classes.values():
                for base in cls.bases:
                    self._add_resolved(self.index.resolve_expression(module, base))
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
                if child.id not in types:
                    self._add_resolved(self.index.resolve(module, child.id))
            elif isinstance(child, ast.Attribute):
                self._attribute(module, child, types)
            elif isinstance(child, ast.withitem):
                cls = self._type_of(module, child.context_expr, types)
                if cls:
                    self._add_method(cls, "__enter__")
                    self._add_method(cls, "__exit__")
            if isinstance(child, ast.Call):
                self._call(child)

    def _attribute(self, module: str, node: ast.Attribute, types: dict[str, tuple[str, str]]) -> None:
        if module != CONFIG_MODULE:  # config.py reads every setting; what counts is who uses one
            self.reach.attributes.add(node.attr)
        resolved = self.index.resolve_expression(module, node)
        if resolved:
            self._add_resolved(resolved)
            return
        cls = self._type_of(module, node.value, types)
        if cls:
            self._add_method(cls, node.attr)

    def _call(self, node: ast.Call) -> None:
        func = node.func
        if not isinstance(func, ast.Attribute):
            return
        self.reach.called.add(func.attr)
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        if func.attr in {"client", "resource"} and literal:
            self.reach.services.add(literal)
        elif func.attr == "get_paginator" and literal:
            self.reach.called.add(literal)
        elif func.attr in TRANSACTION_OPERATIONS:
            for child in ast.walk(node):
                if isinstance(child, ast.Dict):
                    for key in child.keys:
                        if isinstance(key, ast.Constant) and key.value in TRANSACTION_ITEMS:
                            self.reach.transaction_items.add(key.value)

    # --- types ---------------------------------------------------------------------------------------------
    def _local_types(self, module: str, node: ast.AST, owner: ClassInfo | None) -> dict[str, tuple[str, str]]:
        """Names whose class the code states: annotated parameters, `self`, simple assignments."""
        types: dict[str, tuple[str, str]] = {}
        for function in [n for n in ast.walk(node) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            arguments = function.args.posonlyargs + function.args.args + function.args.kwonlyargs
            for position, arg in enumerate(arguments):
                if owner is not None and position == 0 and arg.arg in {"self", "cls"} and function is node:
                    types[arg.arg] = (owner.module, owner.name)
                cls = self.index.class_of_expression(module, arg.annotation)
                if cls:
                    types[arg.arg] = cls
        for _ in range(2):  # assignments may build on each other
            for child in ast.walk(node):
                if isinstance(child, ast.Assign):
                    cls = self._type_of(module, child.value, types)
                    for target in child.targets:
                        if isinstance(target, ast.Name) and cls:
                            types[target.id] = cls
                elif isinstance(child, ast.AnnAssign) and isinstance(child.target, ast.Name):
                    cls = self.index.class_of_expression(module, child.annotation)
                    if cls:
                        types[child.target.id] = cls
                elif isinstance(child, ast.withitem) and isinstance(child.optional_vars, ast.Name):
                    cls = self._type_of(module, child.context_expr, types)
                    if cls:
                        enter = self._returns(cls, "__enter__")
                        types[child.optional_vars.id] = enter or cls
        return types

    def _returns(self, cls: tuple[str, str], method: str) -> tuple[str, str] | None:
        for info in self.index.lineage(cls):
            if method in info.methods:
                return self.index.class_of_expression(info.module, info.methods[method].returns)
        return None

    def _type_of(self, module: str, node: ast.expr, types: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
        if isinstance(node, ast.Name):
            if node.id in types:
                return types[node.id]
            resolved = self.index.resolve(module, node.id)
            if resolved and resolved[0] == "variable":
                value = self.index.modules[resolved[1]].variables[resolved[2]]
                return self._type_of(resolved[1], value, {})
            return None
        if isinstance(node, ast.Call):
            resolved = self.index.resolve_expression(module, node.func)
            if resolved and resolved[0] == "class":
                return (resolved[1], resolved[2])
            if resolved and resolved[0] == "function":
                function = self.index.modules[resolved[1]].functions[resolved[2]]
                return self.index.class_of_expression(resolved[1], function.returns)
            if isinstance(node.func, ast.Attribute):
                owner = self._type_of(module, node.func.value, types)
                if owner:
                    return self._returns(owner, node.func.attr)
            return None
        if isinstance(node, ast.Attribute):
            owner = self._type_of(module, node.value, types)
            if owner is None:
                return None
            for info in self.index.lineage(owner):
                annotation = info.attribute_annotations.get(node.attr)
                if annotation is not None:
                    if isinstance(annotation, ast.Call):
                        return self._type_of(info.module, annotation, {})
                    return self.index.class_of_expression(info.module, annotation)
        return None


# --- actions ------------------------------------------------------------------------------------------------
def actions_of(reach: Reach) -> set[str]:
    """IAM actions of the AWS calls among what the code reaches, with what they imply."""
    actions: set[str] = set()
    for service in reach.services:
        operations = operations_of(service)
        for name in reach.called & set(operations):
            if name in TRANSACTION_OPERATIONS:
                continue
            actions |= iam_actions(service, operations[name])
    if "dynamodb" in reach.services and reach.called & TRANSACTION_OPERATIONS:
        actions |= {TRANSACTION_ITEMS[item] for item in reach.transaction_items}
    for action in list(actions):
        actions.update(IMPLIED_ACTIONS.get(action, ()))
    return actions


def table_settings(index: CodeIndex) -> set[str]:
    """The Settings fields that name a DynamoDB table (jobs_table, counters_table)."""
    settings = index.modules[CONFIG_MODULE].classes["Settings"]
    return {name for name in settings.attribute_annotations if name.endswith("_table")}


def tables_of(reach: Reach, index: CodeIndex) -> set[str]:
    """The tables the reached code names through its settings: "jobs", "counters"."""
    if "dynamodb" not in reach.services:
        return set()
    return {name.removesuffix("_table") for name in reach.attributes & table_settings(index)}


def lambda_folders() -> list[str]:
    return sorted(path.parent.name for path in LAMBDAS_DIR.glob("*/handler.py"))


def lambda_reach(folder: str, index: CodeIndex) -> Reach:
    entry = f"lambdas.{folder}.handler"
    index.add_entry_module(entry, LAMBDAS_DIR / folder / "handler.py")
    missing = missing_imports(index, entry)
    if missing:
        raise ModuleNotFoundError(f"lambdas/{folder}/handler.py imports what does not exist: {', '.join(missing)}")
    return Walker(index).run(entry)


def worker_reaches(index: CodeIndex) -> list[Reach]:
    """The instance profile serves both workers: one reach per kind."""
    reaches = []
    for kind in WORKER_KINDS:
        entry = f"workers.{kind}.main"
        if entry not in index.modules:
            raise ModuleNotFoundError(f"workers/{kind}/main.py does not exist")
        reaches.append(Walker(index).run(entry))
    return reaches


def lambda_actions(folder: str, index: CodeIndex | None = None) -> set[str]:
    return actions_of(lambda_reach(folder, index or CodeIndex()))


def lambda_tables(folder: str, index: CodeIndex | None = None) -> set[str]:
    index = index or CodeIndex()
    return tables_of(lambda_reach(folder, index), index)


def worker_actions(index: CodeIndex | None = None) -> set[str]:
    return set().union(*(actions_of(reach) for reach in worker_reaches(index or CodeIndex())))


def worker_tables(index: CodeIndex | None = None) -> set[str]:
    index = index or CodeIndex()
    return set().union(*(tables_of(reach, index) for reach in worker_reaches(index)))


LOCAL_ONLY_MODULES = ("manga2video.local",)


def every_call_in_the_packages(index: CodeIndex | None = None, skip: tuple[str, ...] = LOCAL_ONLY_MODULES) -> set[str]:
    """The actions of every AWS call written anywhere in the deployed packages, reachable or not:
    a call in here that no entry point reaches is one the walk failed to follow."""
    index = index or CodeIndex()
    walker = Walker(index)
    for name, module in index.modules.items():
        if name.startswith(skip):
            continue
        walker._add((name, "<module>"))
        walker._pending.extend((name, function) for function in module.functions)
        walker._pending.extend(
            (name, f"{cls.name}.{method}") for cls in module.classes.values() for method in cls.methods
        )
    while walker._pending:
        unit = walker._pending.pop()
        walker.reach.units.add(unit)
        walker._visit(unit)
    return actions_of(walker.reach)


def missing_imports(index: CodeIndex, module: str) -> list[str]:
    """Imports of our packages that name a module or symbol the index does not have."""
    missing = []
    for alias, (target, symbol) in index.modules[module].imports.items():
        if target.split(".")[0] not in PACKAGES:
            continue
        resolved = index.resolve(module, alias)
        if resolved is None:
            missing.append(f"{target}.{symbol}" if symbol else target)
    return missing


def hcl_list(actions: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{action}"' for action in sorted(actions)) + "]"


def main() -> int:
    """Print the action and table lists in the shape of terraform/lambdas.tf and workers.tf."""
    index = CodeIndex()
    for folder in lambda_folders():
        try:
            reach = lambda_reach(folder, index)
        except ModuleNotFoundError as exc:
            print(f"    # {folder}: {exc}")
            continue
        tables = hcl_list(tables_of(reach, index))
        print(f"    {folder} = {{ actions = {hcl_list(actions_of(reach))}, tables = {tables} }}")
    try:
        print(f"  worker_actions = {hcl_list(worker_actions(index))}")
        print(f"  worker_tables  = {hcl_list(worker_tables(index))}")
    except ModuleNotFoundError as exc:
        print(f"  # workers: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
