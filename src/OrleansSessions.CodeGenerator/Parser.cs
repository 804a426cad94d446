using System;
using System.Collections.Generic;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace OrleansSessions.CodeGenerator
{
    /// <summary>Turns symbols into the equatable models the emitter consumes.</summary>
    internal static class Parser
    {
        public const string GrainInterfaceName = "OrleansSessions.IGrain";
        public const string GrainWithStringKeyName = "OrleansSessions.IGrainWithStringKey";
        public const string OneWayAttributeName = "OrleansSessions.OneWayAttribute";
        public const string AlwaysInterleaveAttributeName = "OrleansSessions.AlwaysInterleaveAttribute";
        public const string GenerateSerializerAttributeName = "OrleansSessions.GenerateSerializerAttribute";

        /// <summary>Fully qualified, with nullable reference annotations (for signatures and fields).</summary>
        private static readonly SymbolDisplayFormat AnnotatedFormat = SymbolDisplayFormat.FullyQualifiedFormat
            .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

        /// <summary>
        /// Builds the model of a grain interface, or returns null when <paramref name="symbol"/> is not one.
        /// </summary>
        /// <remarks>
        /// Method ids: the interface's methods are flattened by a depth-first, post-order walk of its base
        /// interfaces in the order they are listed in each base list (each interface visited once), followed
        /// by the interface's own methods in declaration order. The method id is the index in that list, so
        /// inherited methods come first and adding a method at the end of an interface keeps existing ids.
        /// </remarks>
        public static InterfaceModel? ParseInterface(INamedTypeSymbol symbol, Compilation compilation, CancellationToken cancellationToken)
        {
            if (symbol.TypeKind != TypeKind.Interface)
            {
                return null;
            }
            var grain = compilation.GetTypeByMetadataName(GrainInterfaceName);
            if (grain is null)
            {
                return null;
            }
            var fullName = GetMetadataFullName(symbol);
            if (fullName == GrainInterfaceName || fullName == GrainWithStringKeyName)
            {
                return null;
            }
            var isGrain = false;
            foreach (var i in symbol.AllInterfaces)
            {
                if (SymbolEqualityComparer.Default.Equals(i, grain))
                {
                    isGrain = true;
                    break;
                }
            }
            if (!isGrain)
            {
                return null;
            }

            var diagnostics = new List<DiagnosticInfo>();
            var location = symbol.Locations.Length > 0 ? symbol.Locations[0] : Location.None;
            var display = symbol.ToDisplayString();
            if (symbol.IsGenericType)
            {
                diagnostics.Add(new DiagnosticInfo(Diagnostics.UnsupportedGrainInterface, location, display, "generic grain interfaces are not supported", ""));
            }
            if (!IsAccessibleFromAssembly(symbol, compilation))
            {
                diagnostics.Add(new DiagnosticInfo(Diagnostics.UnsupportedGrainInterface, location, display, "the interface and its containing types must be public or internal", ""));
            }

            var taskType = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task");
            var taskOfT = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task`1");
            var valueTask = compilation.GetTypeByMetadataName("System.Threading.Tasks.ValueTask");
            var valueTaskOfT = compilation.GetTypeByMetadataName("System.Threading.Tasks.ValueTask`1");

            var ordered = new List<IMethodSymbol>();
            var visited = new HashSet<INamedTypeSymbol>(SymbolEqualityComparer.Default);
            CollectMethods(symbol, visited, ordered, diagnostics, location, cancellationToken);

            var methods = new List<MethodModel>(ordered.Count);
            foreach (var method in ordered)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var methodLocation = method.Locations.Length > 0 && method.Locations[0].IsInSource ? method.Locations[0] : location;
                var owner = method.ContainingType.ToDisplayString();
                var problem = (string?)null;
                ReturnKind kind = ReturnKind.Task;
                var returnType = method.ReturnType as INamedTypeSymbol;
                var definition = returnType?.OriginalDefinition;
                if (method.ReturnsByRef || method.ReturnsByRefReadonly || returnType is null)
                {
                    problem = "it must return Task, Task<T>, ValueTask or ValueTask<T>";
                }
                else if (SymbolEqualityComparer.Default.Equals(definition, taskType))
                {
                    kind = ReturnKind.Task;
                }
                else if (SymbolEqualityComparer.Default.Equals(definition, taskOfT))
                {
                    kind = ReturnKind.TaskOfT;
                }
                else if (SymbolEqualityComparer.Default.Equals(definition, valueTask))
                {
                    kind = ReturnKind.ValueTask;
                }
                else if (SymbolEqualityComparer.Default.Equals(definition, valueTaskOfT))
                {
                    kind = ReturnKind.ValueTaskOfT;
                }
                else
                {
                    problem = "it returns " + method.ReturnType.ToDisplayString() + "; grain methods must return Task, Task<T>, ValueTask or ValueTask<T>";
                }
                if (problem is null && method.IsGenericMethod)
                {
                    problem = "generic grain methods are not supported";
                }
                if (problem is null)
                {
                    foreach (var p in method.Parameters)
                    {
                        if (p.RefKind != RefKind.None)
                        {
                            problem = "parameter '" + p.Name + "' is passed by reference (ref, out and in parameters are not supported)";
                            break;
                        }
                        if (p.Type.TypeKind == TypeKind.Pointer || p.Type.TypeKind == TypeKind.FunctionPointer || p.Type.IsRefLikeType)
                        {
                            problem = "parameter '" + p.Name + "' has a type that cannot be serialized";
                            break;
                        }
                    }
                }
                if (problem is not null)
                {
                    diagnostics.Add(new DiagnosticInfo(Diagnostics.UnsupportedGrainMethod, methodLocation, owner, method.Name, problem));
                    continue;
                }

                var oneWay = HasAttribute(method, OneWayAttributeName);
                var interleave = HasAttribute(method, AlwaysInterleaveAttributeName);
                if (oneWay && (kind == ReturnKind.TaskOfT || kind == ReturnKind.ValueTaskOfT))
                {
                    diagnostics.Add(new DiagnosticInfo(Diagnostics.OneWayReturnsValue, methodLocation, owner, method.Name, method.ReturnType.ToDisplayString()));
                    continue;
                }

                var resultType = kind == ReturnKind.TaskOfT || kind == ReturnKind.ValueTaskOfT
                    ? returnType!.TypeArguments[0].WithNullableAnnotation(returnType.TypeArgumentNullableAnnotations[0]).ToDisplayString(AnnotatedFormat)
                    : "global::OrleansSessions.Serialization.None";

                var parameters = new List<ParameterModel>(method.Parameters.Length);
                foreach (var p in method.Parameters)
                {
                    parameters.Add(new ParameterModel(
                        EscapeIdentifier(p.Name),
                        p.Type.WithNullableAnnotation(p.NullableAnnotation).ToDisplayString(AnnotatedFormat),
                        CodecType(p.Type),
                        !p.Type.IsValueType));
                }
                methods.Add(new MethodModel(
                    method.Name,
                    method.ContainingType.ToDisplayString(AnnotatedFormat),
                    kind,
                    method.ReturnType.WithNullableAnnotation(method.ReturnNullableAnnotation).ToDisplayString(AnnotatedFormat),
                    resultType,
                    oneWay,
                    interleave,
                    new EquatableArray<ParameterModel>(parameters)));
            }

            return new InterfaceModel(
                symbol.ToDisplayString(AnnotatedFormat),
                fullName,
                BaseName(symbol),
                new EquatableArray<MethodModel>(methods),
                new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        private static void CollectMethods(
            INamedTypeSymbol type,
            HashSet<INamedTypeSymbol> visited,
            List<IMethodSymbol> methods,
            List<DiagnosticInfo> diagnostics,
            Location fallbackLocation,
            CancellationToken cancellationToken)
        {
            if (!visited.Add(type))
            {
                return;
            }
            foreach (var baseInterface in type.Interfaces)
            {
                CollectMethods(baseInterface, visited, methods, diagnostics, fallbackLocation, cancellationToken);
            }
            foreach (var member in type.GetMembers())
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (member.IsStatic || !member.IsAbstract)
                {
                    // Static members and default interface implementations are not remote methods.
                    continue;
                }
                switch (member)
                {
                    case IMethodSymbol { MethodKind: MethodKind.Ordinary } method:
                        methods.Add(method);
                        break;
                    case IMethodSymbol:
                        // Property and event accessors: reported through their property or event.
                        break;
                    default:
                        var location = member.Locations.Length > 0 && member.Locations[0].IsInSource ? member.Locations[0] : fallbackLocation;
                        diagnostics.Add(new DiagnosticInfo(
                            Diagnostics.UnsupportedGrainInterface,
                            location,
                            type.ToDisplayString(),
                            "member '" + member.Name + "' is not a method; grain interfaces may only declare methods",
                            ""));
                        break;
                }
            }
        }

        /// <summary>Builds the codec model of a [GenerateSerializer] type.</summary>
        public static SerializerModel? ParseSerializable(INamedTypeSymbol symbol, Compilation compilation, CancellationToken cancellationToken)
        {
            if (symbol.TypeKind != TypeKind.Class && symbol.TypeKind != TypeKind.Struct)
            {
                return null;
            }
            var diagnostics = new List<DiagnosticInfo>();
            var location = symbol.Locations.Length > 0 ? symbol.Locations[0] : Location.None;
            var display = symbol.ToDisplayString();
            if (symbol.IsGenericType)
            {
                diagnostics.Add(new DiagnosticInfo(Diagnostics.UnsupportedSerializableType, location, display, "generic types are not supported; register a codec with CodecRegistry.Register", ""));
            }
            if (symbol.IsAbstract || symbol.IsStatic)
            {
                diagnostics.Add(new DiagnosticInfo(Diagnostics.UnsupportedSerializableType, location, display, "abstract and static types cannot be constructed", ""));
            }
            if (symbol.IsRefLikeType)
            {
                diagnostics.Add(new DiagnosticInfo(Diagnostics.UnsupportedSerializableType, location, display, "ref structs are not supported", ""));
            }
            if (!IsAccessibleFromAssembly(symbol, compilation))
            {
                diagnostics.Add(new DiagnosticInfo(Diagnostics.UnsupportedSerializableType, location, display, "the type and its containing types must be public or internal", ""));
            }
            if (diagnostics.Count > 0)
            {
                return new SerializerModel(symbol.ToDisplayString(AnnotatedFormat), GetMetadataFullName(symbol), BaseName(symbol), symbol.IsValueType, 0,
                    new EquatableArray<MemberModel>(new List<MemberModel>()), new EquatableArray<DiagnosticInfo>(diagnostics));
            }

            // Public readable instance properties, base types first, each in declaration order. An override or
            // a 'new' property replaces the base entry in place.
            var chain = new List<INamedTypeSymbol>();
            for (var t = symbol; t is not null && t.SpecialType != SpecialType.System_Object && t.SpecialType != SpecialType.System_ValueType; t = t.BaseType)
            {
                chain.Add(t);
            }
            chain.Reverse();
            var properties = new List<IPropertySymbol>();
            foreach (var type in chain)
            {
                foreach (var member in type.GetMembers())
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (member is not IPropertySymbol property
                        || property.IsStatic
                        || property.IsIndexer
                        || property.ReturnsByRef
                        || property.ReturnsByRefReadonly
                        || property.DeclaredAccessibility != Accessibility.Public
                        || property.GetMethod is null
                        || property.GetMethod.DeclaredAccessibility != Accessibility.Public
                        || property.Type.TypeKind == TypeKind.Pointer
                        || property.Type.IsRefLikeType)
                    {
                        continue;
                    }
                    var index = properties.FindIndex(p => p.Name == property.Name);
                    if (index >= 0)
                    {
                        properties[index] = property;
                    }
                    else
                    {
                        properties.Add(property);
                    }
                }
            }

            bool IsSettable(IPropertySymbol p) => p.SetMethod is not null && IsAccessible(p.SetMethod, compilation);

            // Pick the accessible constructor with the most parameters that all bind (by case-insensitive name
            // and type) to readable properties; fall back to the parameterless constructor.
            IMethodSymbol? chosen = null;
            int[]? chosenBinding = null;
            var hasParameterless = symbol.IsValueType;
            foreach (var ctor in symbol.InstanceConstructors)
            {
                if (!IsAccessible(ctor, compilation))
                {
                    continue;
                }
                if (ctor.Parameters.Length == 0)
                {
                    hasParameterless = true;
                    continue;
                }
                var binding = new int[ctor.Parameters.Length];
                var ok = true;
                for (var i = 0; i < ctor.Parameters.Length && ok; i++)
                {
                    var parameter = ctor.Parameters[i];
                    binding[i] = -1;
                    if (parameter.RefKind != RefKind.None && parameter.RefKind != RefKind.In)
                    {
                        ok = false;
                        break;
                    }
                    for (var j = 0; j < properties.Count; j++)
                    {
                        if (string.Equals(properties[j].Name, parameter.Name, StringComparison.OrdinalIgnoreCase)
                            && SymbolEqualityComparer.Default.Equals(properties[j].Type, parameter.Type)
                            && Array.IndexOf(binding, j, 0, i) < 0)
                        {
                            binding[i] = j;
                            break;
                        }
                    }
                    ok = binding[i] >= 0;
                }
                if (ok && (chosen is null || ctor.Parameters.Length > chosen.Parameters.Length))
                {
                    chosen = ctor;
                    chosenBinding = binding;
                }
            }
            if (chosen is null && !hasParameterless)
            {
                diagnostics.Add(new DiagnosticInfo(Diagnostics.UnsupportedSerializableType, location, display,
                    "it needs an accessible parameterless constructor or a constructor whose parameters all match public properties by name and type", ""));
                return new SerializerModel(symbol.ToDisplayString(AnnotatedFormat), GetMetadataFullName(symbol), BaseName(symbol), symbol.IsValueType, 0,
                    new EquatableArray<MemberModel>(new List<MemberModel>()), new EquatableArray<DiagnosticInfo>(diagnostics));
            }

            var setsRequired = false;
            if (chosen is not null)
            {
                foreach (var attribute in chosen.GetAttributes())
                {
                    if (attribute.AttributeClass?.ToDisplayString() == "System.Diagnostics.CodeAnalysis.SetsRequiredMembersAttribute")
                    {
                        setsRequired = true;
                    }
                }
            }

            var members = new List<MemberModel>();
            for (var j = 0; j < properties.Count; j++)
            {
                var property = properties[j];
                var position = chosenBinding is null ? -1 : Array.IndexOf(chosenBinding, j);
                var settable = IsSettable(property);
                if (position < 0 && !settable)
                {
                    continue;
                }
                var inInitializer = settable && (position < 0 || (property.IsRequired && !setsRequired));
                members.Add(new MemberModel(
                    EscapeIdentifier(property.Name),
                    CodecType(property.Type),
                    !property.Type.IsValueType,
                    position,
                    inInitializer));
            }

            return new SerializerModel(
                symbol.ToDisplayString(AnnotatedFormat),
                GetMetadataFullName(symbol),
                BaseName(symbol),
                symbol.IsValueType,
                chosen?.Parameters.Length ?? 0,
                new EquatableArray<MemberModel>(members),
                new EquatableArray<DiagnosticInfo>(diagnostics));
        }

        /// <summary>The type to pass to CodecRegistry.Get: the top-level nullable reference annotation is dropped (nested ones kept so assignments match exactly).</summary>
        private static string CodecType(ITypeSymbol type)
            => type.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString(AnnotatedFormat);

        private static bool HasAttribute(ISymbol symbol, string fullName)
        {
            foreach (var attribute in symbol.GetAttributes())
            {
                if (attribute.AttributeClass is { } c && GetMetadataFullName(c) == fullName)
                {
                    return true;
                }
            }
            return false;
        }

        private static bool IsAccessible(ISymbol symbol, Compilation compilation)
        {
            switch (symbol.DeclaredAccessibility)
            {
                case Accessibility.Public:
                    return true;
                case Accessibility.Internal:
                case Accessibility.ProtectedOrInternal:
                    return SymbolEqualityComparer.Default.Equals(symbol.ContainingAssembly, compilation.Assembly);
                default:
                    return false;
            }
        }

        private static bool IsAccessibleFromAssembly(INamedTypeSymbol symbol, Compilation compilation)
        {
            for (INamedTypeSymbol? t = symbol; t is not null; t = t.ContainingType)
            {
                if (!IsAccessible(t, compilation))
                {
                    return false;
                }
            }
            return true;
        }

        /// <summary>The name as <c>Type.FullName</c> spells it: namespace, '+' between nested types, `N for generic arity.</summary>
        public static string GetMetadataFullName(INamedTypeSymbol symbol)
        {
            var name = symbol.MetadataName;
            for (var c = symbol.ContainingType; c is not null; c = c.ContainingType)
            {
                name = c.MetadataName + "+" + name;
            }
            var ns = new List<string>();
            for (var n = symbol.ContainingNamespace; n is not null && !n.IsGlobalNamespace; n = n.ContainingNamespace)
            {
                ns.Add(n.MetadataName);
            }
            if (ns.Count == 0)
            {
                return name;
            }
            ns.Reverse();
            return string.Join(".", ns) + "." + name;
        }

        /// <summary>A C# identifier for generated type names: containing types and the type name joined by '_'.</summary>
        private static string BaseName(INamedTypeSymbol symbol)
        {
            var name = symbol.Name;
            for (var c = symbol.ContainingType; c is not null; c = c.ContainingType)
            {
                name = c.Name + "_" + name;
            }
            return SanitizeIdentifier(name);
        }

        public static string SanitizeIdentifier(string value)
        {
            var builder = new StringBuilder(value.Length + 1);
            foreach (var c in value)
            {
                builder.Append(char.IsLetterOrDigit(c) || c == '_' ? c : '_');
            }
            if (builder.Length == 0 || char.IsDigit(builder[0]))
            {
                builder.Insert(0, '_');
            }
            return builder.ToString();
        }

        public static string EscapeIdentifier(string name)
            => SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;
    }
}
