using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace OrleansSessions.CodeGenerator
{
    /// <summary>
    /// Generates, for the compilation it runs in: a request class per grain method, a proxy per grain
    /// interface, a codec per [GenerateSerializer] type, and a module initializer that registers them with
    /// <c>GrainInterfaceRegistry</c> and <c>CodecRegistry</c>.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class GrainCodeGenerator : IIncrementalGenerator
    {
        /// <inheritdoc />
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var interfaces = context.SyntaxProvider
                .CreateSyntaxProvider(
                    static (node, _) => node is InterfaceDeclarationSyntax { BaseList: not null },
                    static (ctx, ct) => ctx.SemanticModel.GetDeclaredSymbol(ctx.Node, ct) is INamedTypeSymbol symbol
                        ? Parser.ParseInterface(symbol, ctx.SemanticModel.Compilation, ct)
                        : null)
                .Where(static m => m is not null)
                .Collect();

            var serializers = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    Parser.GenerateSerializerAttributeName,
                    static (node, _) => node is TypeDeclarationSyntax,
                    static (ctx, ct) => ctx.TargetSymbol is INamedTypeSymbol symbol
                        ? Parser.ParseSerializable(symbol, ctx.SemanticModel.Compilation, ct)
                        : null)
                .Where(static m => m is not null)
                .Collect();

            var assemblyName = context.CompilationProvider.Select(static (c, _) => c.AssemblyName ?? "Assembly");

            context.RegisterSourceOutput(
                interfaces.Combine(serializers).Combine(assemblyName),
                static (spc, input) => Execute(spc, input.Left.Left!, input.Left.Right!, input.Right));
        }

        private static void Execute(
            SourceProductionContext context,
            ImmutableArray<InterfaceModel?> interfaceModels,
            ImmutableArray<SerializerModel?> serializerModels,
            string assemblyName)
        {
            var reported = new HashSet<DiagnosticInfo>();

            // Partial declarations yield one model each: keep one per type, ordered by name for determinism.
            var interfaces = Distinct(interfaceModels, static m => m.MetadataFullName);
            var serializers = Distinct(serializerModels, static m => m.MetadataFullName);

            var validInterfaces = new List<InterfaceModel>();
            foreach (var model in interfaces)
            {
                foreach (var d in model.Diagnostics)
                {
                    if (reported.Add(d))
                    {
                        context.ReportDiagnostic(d.ToDiagnostic());
                    }
                }
                if (!model.HasErrors)
                {
                    validInterfaces.Add(model);
                }
            }
            var validSerializers = new List<SerializerModel>();
            foreach (var model in serializers)
            {
                foreach (var d in model.Diagnostics)
                {
                    if (reported.Add(d))
                    {
                        context.ReportDiagnostic(d.ToDiagnostic());
                    }
                }
                if (!model.HasErrors)
                {
                    validSerializers.Add(model);
                }
            }
            if (validInterfaces.Count == 0 && validSerializers.Count == 0)
            {
                return;
            }

            var emitter = new Emitter(assemblyName);
            var registrations = new List<Emitter.Registration>();
            foreach (var model in validInterfaces)
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                var (hintName, source, registration) = emitter.EmitInterface(model);
                context.AddSource(hintName, source);
                registrations.Add(registration);
            }
            foreach (var model in validSerializers)
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                var (hintName, source, registration) = emitter.EmitSerializer(model);
                context.AddSource(hintName, source);
                registrations.Add(registration);
            }
            var (registrationHint, registrationSource) = emitter.EmitRegistration(registrations, validInterfaces.Count > 0);
            context.AddSource(registrationHint, registrationSource);
        }

        private static List<T> Distinct<T>(ImmutableArray<T?> models, Func<T, string> key) where T : class
        {
            var byName = new SortedDictionary<string, T>(StringComparer.Ordinal);
            foreach (var model in models)
            {
                if (model is not null && !byName.ContainsKey(key(model)))
                {
                    byName.Add(key(model), model);
                }
            }
            return new List<T>(byName.Values);
        }
    }
}
