using Microsoft.CodeAnalysis;

namespace OrleansSessions.CodeGenerator
{
    internal static class Diagnostics
    {
        private const string Category = "OrleansSessions.CodeGenerator";

        /// <summary>A grain method has an unsupported shape (return type, ref/out/in parameter, generic method).</summary>
        public static readonly DiagnosticDescriptor UnsupportedGrainMethod = new DiagnosticDescriptor(
            id: "OSG001",
            title: "Unsupported grain method",
            messageFormat: "Grain method '{0}.{1}' is not supported: {2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true,
            description: "Grain interface methods must return Task, Task<T>, ValueTask or ValueTask<T>, must not be generic and must not have ref, out or in parameters.");

        /// <summary>A [OneWay] method returns a value.</summary>
        public static readonly DiagnosticDescriptor OneWayReturnsValue = new DiagnosticDescriptor(
            id: "OSG002",
            title: "One-way grain method returns a value",
            messageFormat: "[OneWay] grain method '{0}.{1}' must return Task or ValueTask, not {2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        /// <summary>A grain interface cannot be generated.</summary>
        public static readonly DiagnosticDescriptor UnsupportedGrainInterface = new DiagnosticDescriptor(
            id: "OSG003",
            title: "Unsupported grain interface",
            messageFormat: "Grain interface '{0}' is not supported: {1}{2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);

        /// <summary>A [GenerateSerializer] type cannot be generated.</summary>
        public static readonly DiagnosticDescriptor UnsupportedSerializableType = new DiagnosticDescriptor(
            id: "OSG004",
            title: "Unsupported serializable type",
            messageFormat: "Cannot generate a codec for '{0}': {1}{2}",
            category: Category,
            defaultSeverity: DiagnosticSeverity.Error,
            isEnabledByDefault: true);
    }
}
