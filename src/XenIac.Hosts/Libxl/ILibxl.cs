using Microsoft.Win32.SafeHandles;

namespace XenIac.Hosts.Libxl;

/// <summary>
/// The libxl operations the host sequences, one method per libxl call (or small fixed group of calls). Kept
/// apart from the sequencing in <see cref="LibxlSaveRestore"/> so that logic can be tested without a hypervisor.
/// Every method blocks until libxl returns and throws <see cref="XenHostException"/> on failure.
/// </summary>
internal interface ILibxl : IDisposable
{
    IReadOnlyList<DomainInfo> ListDomains();

    /// <summary>libxl_get_version_info (the hypervisor's version) and libxl_get_free_memory.</summary>
    (string XenVersion, long FreeMemoryKiB) HostFacts();

    /// <summary>libxl_name_to_domid; null when no domain has that name.</summary>
    uint? FindDomId(string name);

    /// <summary>libxl_retrieve_domain_configuration, as libxl JSON.</summary>
    string RetrieveConfigJson(uint domid);

    /// <summary>Parses JSON into a libxl_domain_config and prints it back: validates and gives libxl's own formatting.</summary>
    string NormalizeConfigJson(string json);

    /// <summary>libxl_domain_suspend onto <paramref name="file"/> at its current OS file offset.</summary>
    void Suspend(uint domid, SafeFileHandle file);

    void Resume(uint domid, bool suspendCancel);

    void Pause(uint domid);

    void Unpause(uint domid);

    void Destroy(uint domid);

    /// <summary>libxl_domain_create_restore reading the image from the current OS file offset; the domain is left paused.</summary>
    uint CreateRestore(string json, SafeFileHandle file, bool streamV2);

    /// <summary>libxl_domain_create_new; the domain is left paused.</summary>
    uint CreateNew(string json);
}
