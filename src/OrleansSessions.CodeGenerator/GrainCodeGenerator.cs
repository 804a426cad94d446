using Microsoft.CodeAnalysis;

namespace OrleansSessions.CodeGenerator
{
    /// <summary>Generates grain proxies, requests and codecs.</summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class GrainCodeGenerator : IIncrementalGenerator
    {
        /// <inheritdoc />
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
        }
    }
}
