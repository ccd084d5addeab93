using System.Text.Json;
using System.Text.Json.Serialization;
using XenIac.Reconciler.Importing;
using XenIac.Reconciler.Manifests;

namespace XenIac.Cli.Commands.Import;

/// <summary>How <c>import</c> reads: warnings on stderr, the manifest or a summary on stdout, or JSON.</summary>
internal static class ImportRendering
{
    /// <summary>Each skipped file or domain, and each note, on its own stderr line (they start with warning: or note:).</summary>
    public static void WriteWarnings(IEnumerable<string> warnings)
    {
        foreach (var warning in warnings) Console.Error.WriteLine(CommandLine.OneLine(warning));
    }

    public static void RenderAll(ManifestDraft draft, ImportScan scan, bool written, bool json)
    {
        if (json)
        {
            WriteJson(Report(draft, scan.Domains, scan.Warnings, written));
            return;
        }
        if (!written)
        {
            CommandLine.WriteDocument(draft.Text);
            return;
        }
        var running = scan.Domains.Count(d => d.State == DesiredState.Running);
        Console.Out.WriteLine($"Imported {scan.Domains.Count} domain{(scan.Domains.Count == 1 ? "" : "s")} ({running} running, {scan.Domains.Count - running} saved) into {draft.ManifestPath}" +
                              (draft.Configs.Count == 0 ? "." : $"; their configs are in {Path.GetDirectoryName(draft.Configs[0].Path)}."));
    }

    public static void RenderOne(ManifestDraft draft, ImportedDomain domain, IReadOnlyList<string> warnings, bool json)
    {
        if (json)
        {
            WriteJson(Report(draft, [domain], warnings, written: true));
            return;
        }
        var state = domain.State == DesiredState.Running ? "running" : "saved";
        Console.Out.WriteLine($"Added '{domain.Name}' ({state}) to {draft.ManifestPath}" +
                              (draft.Configs.Count == 0 ? "." : $"; its config is {draft.Configs[0].Path}."));
    }

    private static ImportReport Report(ManifestDraft draft, IEnumerable<ImportedDomain> domains, IReadOnlyList<string> warnings, bool written) => new(
        written ? draft.ManifestPath : null,
        written ? null : draft.Text,
        domains.Select(d => new ImportReportDomain(d.Name, d.State == DesiredState.Running ? "running" : "saved", d.Paused,
            d.Format == SavefileFormat.Legacy ? "legacy" : "xl", d.SavefilePath,
            draft.Configs.FirstOrDefault(c => Path.GetFileNameWithoutExtension(c.Path) == d.Name)?.Path)).ToList(),
        warnings);

    private static void WriteJson(ImportReport report) => CommandLine.WriteDocument(JsonSerializer.Serialize(report, ImportJson.Default.ImportReport));
}

/// <param name="Manifest">The manifest written; null when it was printed (then <paramref name="Yaml"/> holds it).</param>
internal sealed record ImportReport(string? Manifest, string? Yaml, IReadOnlyList<ImportReportDomain> Domains, IReadOnlyList<string> Warnings);

/// <param name="Savefile">The savefile found for the domain; null when the manifest's default path serves.</param>
/// <param name="Config">The xl.cfg written for it; null for a saved domain (its savefile stores its config).</param>
internal sealed record ImportReportDomain(string Name, string State, bool Paused, string Format, string? Savefile, string? Config);

// Source-generated, so the command needs no reflection (the CLI is headed for NativeAOT).
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ImportReport))]
internal sealed partial class ImportJson : JsonSerializerContext;
