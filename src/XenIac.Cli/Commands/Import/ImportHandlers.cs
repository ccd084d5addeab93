using XenIac.Hosts;
using XenIac.Reconciler.Importing;
using XenIac.Reconciler.Manifests;

namespace XenIac.Cli.Commands.Import;

/// <summary>What <c>import</c> does, given its parsed values; each returns the exit code.</summary>
internal static class ImportHandlers
{
    public sealed record Request(string? Name, string? Host, string? Savefiles, string? Out, string? File, bool Force, bool Json);

    /// <summary>Every domain of the host and every savefile of the folder, into a new manifest (or stdout).</summary>
    public static async Task<int> ImportAllAsync(Request request, CancellationToken ct)
    {
        var spec = HostToImportFrom(request.Host, fallback: HostSpec.Default);
        var manifestPath = Path.GetFullPath(request.Out ?? ManifestLoader.DefaultFileName);
        // Refused before the host is even opened: nothing is touched for an import that cannot be written. What can
        // never be written (a device, a FIFO, a folder) is said first, not "exists; pass --force" and then that.
        if (request.Out is not null) Core.IO.AtomicFile.CheckTarget(manifestPath);
        if (request.Out is not null && File.Exists(manifestPath) && !request.Force)
            throw new ImportException($"{request.Out} exists; pass --force to replace it (or xen-iac import NAME -f {request.Out} to add one domain to it)");

        await using var host = spec.Open();
        var scan = await Importer.ScanAsync(host, request.Savefiles, cancellationToken: ct);
        ImportRendering.WriteWarnings(scan.Warnings);
        var draft = ManifestWriter.Compose(scan, manifestPath, spec, request.Savefiles);
        await ImportWriter.WriteAsync(draft, request.Force, writeManifest: request.Out is not null, ct);
        ImportRendering.RenderAll(draft, scan, written: request.Out is not null, request.Json);
        return ExitCodes.Ok;
    }

    /// <summary>One domain (from the host, else the savefile folder) added to an existing manifest, the rest of the file untouched.</summary>
    public static async Task<int> ImportOneAsync(Request request, CancellationToken ct)
    {
        var edit = ManifestEdit.Open(request.File ?? ManifestLoader.DefaultFileName);
        edit.CheckAbsent(request.Name!);
        var spec = HostToImportFrom(request.Host, fallback: edit.DefaultHost);
        var savefiles = request.Savefiles ?? (Directory.Exists(edit.SavefileDir) ? edit.SavefileDir : null);

        await using var host = spec.Open();
        var (domain, warnings) = await Importer.FindAsync(host, request.Name!, savefiles, ct);
        ImportRendering.WriteWarnings(warnings);
        var draft = edit.Add(domain, spec);
        await ImportWriter.WriteAsync(draft, request.Force, writeManifest: true, ct);
        ImportRendering.RenderOne(draft, domain, warnings, request.Json);
        return ExitCodes.Ok;
    }

    /// <summary>
    /// --host, else <paramref name="fallback"/> (the manifest's host), else $XENIAC_HOST. Unlike other commands,
    /// a missing embedded folder is an error, not a new empty host: importing from nothing is a typo.
    /// </summary>
    private static HostSpec HostToImportFrom(string? given, HostSpec fallback)
    {
        var spec = !string.IsNullOrWhiteSpace(given) ? HostSpec.Parse(given)
            : !fallback.IsDefault ? fallback
            : HostSpec.FromEnvironment();
        if (spec.Kind == HostKind.Embedded && !Directory.Exists(spec.Folder))
            throw new ImportException(System.IO.File.Exists(spec.Folder)
                ? $"embedded host folder '{spec.Folder}' is a file, not a folder"
                : $"embedded host folder '{spec.Folder}' does not exist; nothing to import");
        return spec;
    }
}
