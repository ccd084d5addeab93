using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using XenIac.Core.IO;
using XenIac.Core.SaveFiles;

namespace XenIac.Hosts.Embedded;

public sealed partial class EmbeddedHost
{
    // Loading a base reads the whole image once; clones of the same savefile wait for it rather than load their own.
    private static readonly TimeSpan BaseLockWait = TimeSpan.FromMinutes(30);

    /// <summary>
    /// A clone restore: the savefile's memory is loaded once into <c>bases/ID/memory.img</c> (ID from the file's
    /// path, size, modification time and the memory size, so a rewritten savefile gets a new base) and every clone
    /// of it gets only a sparse overlay. The base lock is held until the clone's record names the base, so a
    /// destroy of the last other clone cannot remove the base in between (<see cref="ReleaseBaseAsync"/>).
    /// </summary>
    private async Task<RestoreResult> RestoreCloneAsync(SaveFileReader savefile, string path, EmbeddedDomainShape shape, RestoreOptions options,
        CancellationToken cancellationToken)
    {
        var id = BaseIdOf(path, shape.MemoryKiB);
        var pages = shape.MemoryKiB / 4;
        using var baseLock = await FileLock.AcquireAsync(BaseLockPath(id), BaseLockWait, "clone " + shape.Name, cancellationToken).ConfigureAwait(false);
        var baseFile = BaseMemoryPath(id);
        try
        {
            if (!File.Exists(baseFile))
            {
                CreatePrivateFolder(BaseDir(id));
                AtomicFile.CleanStaleTempFiles(BaseDir(id));
                var temp = AtomicFile.TempPathFor(baseFile);
                try
                {
                    var throttle = Throttle.For(_options);
                    await Task.Run(() => LoadMemory(savefile, path, shape, temp, throttle, options.Progress, cancellationToken), cancellationToken).ConfigureAwait(false);
                    File.Move(temp, baseFile);
                }
                finally
                {
                    File.Delete(temp);
                }
            }
            CreatePrivateFolder(DomainDir(shape.Name));
            AtomicFile.CleanStaleTempFiles(DomainDir(shape.Name));
            CloneMemory.CreateOverlay(OverlayPath(shape.Name), OverlayMapPath(shape.Name), pages);
            var record = await RegisterAsync(shape, HostConfigs.WithDomId(shape.ConfigJson, null), shape.Name,
                options.Paused ? DomainState.Paused : DomainState.Running, materializedMemory: null, cancellationToken, baseMemory: id).ConfigureAwait(false);
            return new RestoreResult(record.ToInfo(), false);
        }
        catch
        {
            // Nothing of a failed clone stays: its overlay and its folder, and the base when no other clone uses it.
            // A clone cancelled before its folder was made has no overlay: File.Delete throws for a missing folder (not
            // a missing file), and that error replaced the cancellation and skipped the base, leaving an empty one.
            // The name's lock is held, so the domain folder is this clone's alone.
            DeleteIfFolderExists(OverlayPath(shape.Name));
            DeleteIfFolderExists(OverlayMapPath(shape.Name));
            if (Directory.Exists(DomainDir(shape.Name)) && !Directory.EnumerateFileSystemEntries(DomainDir(shape.Name)).Any())
                Directory.Delete(DomainDir(shape.Name));
            if (!HasClones(id) && Directory.Exists(BaseDir(id))) Directory.Delete(BaseDir(id), recursive: true);
            throw;
        }
    }

    private static void DeleteIfFolderExists(string file)
    {
        if (Directory.Exists(Path.GetDirectoryName(file))) File.Delete(file);
    }

    /// <summary>Removes a base once no domain record names it any more (under its lock: a clone restore may be taking it).</summary>
    private async Task ReleaseBaseAsync(string id, CancellationToken cancellationToken)
    {
        using var baseLock = await FileLock.AcquireAsync(BaseLockPath(id), BaseLockWait, "release base", cancellationToken).ConfigureAwait(false);
        if (HasClones(id)) return;
        try { Directory.Delete(BaseDir(id), recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    private bool HasClones(string id) =>
        Directory.EnumerateDirectories(Path.Combine(_root, "domains"))
            .Any(dir => DomainRecord.Load(Path.Combine(dir, "domain.json"))?.BaseMemory == id);

    private static string BaseIdOf(string path, long memoryKiB)
    {
        var info = new FileInfo(path);
        var key = string.Create(CultureInfo.InvariantCulture, $"{path}\n{info.Length}\n{info.LastWriteTimeUtc.Ticks}\n{memoryKiB}");
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..32];
    }
}
