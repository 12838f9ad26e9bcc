// Which types our public signatures mention without exporting them. Walks the installed
// declarations from the package entry: every exported function, class and interface (namespaces
// too), and every named type their signatures refer to. A type declared in the package that a
// signature mentions but the entry does not export is one a user cannot name (TS2742, TS4023 in
// their declaration emit, or an annotation they cannot write).

import ts from "typescript";

export interface UnexportedReference {
  type: string;
  usedBy: string;
}

export function unexportedTypes(entry: string): UnexportedReference[] {
  const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, strict: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  if (!source) throw new Error(`no declarations at ${entry}`);
  const packageDir = entry.slice(0, entry.lastIndexOf("/dist/") + 1);

  const resolve = (symbol: ts.Symbol): ts.Symbol => (symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);

  // Everything the entry exports, namespaces (`export * as Session`) followed.
  const exported = new Set<ts.Symbol>();
  const publicDeclarations: { name: string; declaration: ts.Declaration }[] = [];
  const visitModule = (moduleSymbol: ts.Symbol, prefix: string): void => {
    for (const member of checker.getExportsOfModule(moduleSymbol)) {
      const target = resolve(member);
      if (exported.has(target)) continue;
      exported.add(target);
      const name = prefix + member.getName();
      if (target.flags & ts.SymbolFlags.ValueModule && target.declarations?.some(ts.isSourceFile)) {
        visitModule(target, `${name}.`);
        continue;
      }
      for (const declaration of target.declarations ?? []) publicDeclarations.push({ name, declaration });
    }
  };
  visitModule(checker.getSymbolAtLocation(source)!, "");

  const missing = new Map<string, string>();
  const check = (node: ts.Node, usedBy: string): void => {
    const visit = (child: ts.Node): void => {
      // Private members are not part of the surface.
      if ((ts.isPropertyDeclaration(child) || ts.isMethodDeclaration(child)) && isPrivate(child)) return;
      let nameNode: ts.Node | undefined;
      if (ts.isTypeReferenceNode(child)) nameNode = child.typeName;
      else if (ts.isExpressionWithTypeArguments(child)) nameNode = child.expression;
      if (nameNode) {
        const symbol = checker.getSymbolAtLocation(nameNode);
        const target = symbol && resolve(symbol);
        const declaration = target?.declarations?.[0];
        if (
          target &&
          declaration &&
          !(target.flags & ts.SymbolFlags.TypeParameter) &&
          declaration.getSourceFile().fileName.startsWith(packageDir) &&
          !exported.has(target)
        ) {
          missing.set(checker.getFullyQualifiedName(target).replace(/^".*"\./, ""), usedBy);
        }
      }
      ts.forEachChild(child, visit);
    };
    visit(node);
  };

  for (const { name, declaration } of publicDeclarations) {
    // A type alias's body may use private helpers (conditional machinery); what users see of an
    // alias is its name. Interfaces, classes and functions expose every type they mention.
    if (ts.isTypeAliasDeclaration(declaration)) continue;
    if (ts.isFunctionDeclaration(declaration) || ts.isClassDeclaration(declaration) || ts.isInterfaceDeclaration(declaration) || ts.isVariableDeclaration(declaration)) {
      check(declaration, name);
    }
  }
  return [...missing].map(([type, usedBy]) => ({ type, usedBy })).sort((a, b) => a.type.localeCompare(b.type));
}

function isPrivate(node: ts.PropertyDeclaration | ts.MethodDeclaration): boolean {
  return (ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Private) !== 0 || ts.isPrivateIdentifier(node.name);
}
